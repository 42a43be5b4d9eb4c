import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { RealExec } from '../host/exec.js';
import { renderInitramfsInit, renderTinyRootFiles } from './tiny-scripts.js';

test('tiny root files: marker line, key-only dropbear, modes', () => {
  const files = renderTinyRootFiles('NIMBO-READY');
  const rc = files['etc/nimbo/rc']!;
  assert.equal(rc.mode, 0o755);
  assert.match(rc.content, /\necho "NIMBO-READY \$\(hostname\)" > \/dev\/ttyS0\n$/);
  assert.match(rc.content, /\ndropbear -R -s -p 22 /);
  assert.equal(files['etc/shadow']!.mode, 0o600);
  assert.match(files['etc/inittab']!.content, /^::sysinit:\/etc\/nimbo\/rc$/m);
  assert.match(files['etc/inittab']!.content, /^::respawn:\/etc\/nimbo\/serial-getty$/m);
  assert.doesNotMatch(files['etc/inittab']!.content, /^ttyS0:/m, 'no tty field: init must not open ttyS0 itself');
  const getty = files['etc/nimbo/serial-getty']!;
  assert.equal(getty.mode, 0o755);
  assert.match(getty.content, /\[ -c \/dev\/ttyS0 \]/);
  assert.match(getty.content, /exec \/sbin\/getty -n -i -l \/etc\/nimbo\/console-shell -L 115200 ttyS0 vt100/);
  // The seed's key=value files are parsed, never sourced or eval'd.
  assert.doesNotMatch(rc.content, /^\s*(\.|source|eval)\s/m);
});

test('tiny guest agent: respawned by init on its virtio port, idles without one, shutdown(8) for guest-shutdown', () => {
  const files = renderTinyRootFiles('NIMBO-READY');
  assert.match(files['etc/inittab']!.content, /^::respawn:\/etc\/nimbo\/guest-agent$/m);
  const ga = files['etc/nimbo/guest-agent']!;
  assert.equal(ga.mode, 0o755);
  assert.match(ga.content, /^name=org\.qemu\.guest_agent\.0$/m);
  assert.match(ga.content, /if \[ -z "\$port" \] \|\| \[ ! -x \/usr\/sbin\/qemu-ga \]; then exec sleep 2147483647; fi/);
  assert.match(ga.content, /\n\/usr\/sbin\/qemu-ga -m virtio-serial -p "\/dev\/virtio-ports\/\$name" -l \/run\/qemu-ga\.log\n/);
  const sd = files['sbin/shutdown']!;
  assert.equal(sd.mode, 0o755);
  assert.match(sd.content, /-r\) exec \/sbin\/reboot/);
  assert.match(sd.content, /\*\) exec \/sbin\/poweroff/);
  const cp = files['usr/sbin/chpasswd']!;
  assert.equal(cp.mode, 0o755);
  assert.match(cp.content, /mkpasswd -m sha512 -P 0/);
});

test('tiny rc: container mode (seed directory, no VM-only steps, marker on stdout)', () => {
  const rc = renderTinyRootFiles('NIMBO-READY')['etc/nimbo/rc']!.content;
  assert.match(rc, /^SEED_DIR=\/\.nimbo\/seed$/m);
  assert.match(rc, /if \[ -n "\$container" \] \|\| \[ -d "\$SEED_DIR\/nimbo" \]; then incontainer=1; fi/);
  // The seed directory wins over the ISO, in a VM too; a container never probes block devices.
  const find = rc.slice(rc.indexOf('find_seed() {'), rc.indexOf('\n}\n', rc.indexOf('find_seed() {')));
  assert.match(find, /\n {2}if \[ -d "\$SEED_DIR\/nimbo" \]; then SEED=\$SEED_DIR; return 0; fi\n {2}\[ -n "\$incontainer" \] && return 1\n/);
  assert.match(rc, /\[ -n "\$seed_iso" \] && umount "\$SEED"/, 'only the ISO is unmounted');
  // VM-only steps are guarded.
  assert.match(rc, /if \[ -z "\$incontainer" \]; then\n {2}mount -o remount,rw \/\nfi/);
  assert.match(rc, /if \[ -z "\$incontainer" \]; then\n[^]*?resize2fs "\$rootdev"[^]*?\nfi/);
  // Mount attempts cannot fail the boot, and what the runtime mounted is left alone.
  for (const m of ['/sys', '/dev', '/dev/pts', '/tmp', '/run']) {
    assert.match(rc, new RegExp(`\\nmounted ${m.replace(/\//g, '\\/')} \\|\\| mount .* 2>/dev/null\\n`), m);
  }
  // Container: marker on stdout (runc's log), console only when stdout is not a terminal; no ttyS0, no acpid.
  const tail = rc.slice(rc.indexOf('if [ -n "$incontainer" ]; then\n  # No serial port'));
  assert.match(tail, /^if \[ -n "\$incontainer" \]; then\n[^]*?\n {2}echo "NIMBO-READY \$\(hostname\)"\n/);
  assert.match(tail, /\[ -t 1 \] \|\| \[ ! -c \/dev\/console \] \|\| echo "NIMBO-READY \$\(hostname\)" > \/dev\/console/);
  assert.ok(tail.indexOf('exit 0') < tail.indexOf('acpid'), 'acpid and ttyS0 only in a VM');
});

test('tiny scripts parse with busybox sh -n', { skip: !existsSync('/bin/busybox') && 'busybox not installed' }, async () => {
  const exec = new RealExec();
  const scripts = [renderInitramfsInit(), ...Object.values(renderTinyRootFiles('NIMBO-READY'))
    .filter((f) => f.content.startsWith('#!/bin/sh')).map((f) => f.content)];
  for (const s of scripts) {
    const res = await exec.run(['/bin/busybox', 'sh', '-n'], { input: s, allowFailure: true });
    assert.equal(res.code, 0, `${res.stderr}\n${s.slice(0, 200)}`);
  }
});
