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
  assert.match(files['etc/inittab']!.content, /^ttyS0::respawn:\/sbin\/getty -n /m);
  // The seed's key=value files are parsed, never sourced or eval'd.
  assert.doesNotMatch(rc.content, /^\s*(\.|source|eval)\s/m);
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
