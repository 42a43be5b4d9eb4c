// Warm launch from a booted template (issue 14, item 7): a running tiny VM is saved with
// `image snapshot --from-running`; two VMs launched from it restore its memory (same boot_id, uptime older
// than the launch) and still reach SSH with their own hostname, key, MAC and address; the source keeps running.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { TestDaemon, makeSshKey, ssh, sshUntil, systemSkipReason } from './harness.js';

const skip = systemSkipReason();

interface Inst {
  name: string;
  state: string;
  addresses: string[];
  cpus: number;
  memory: number;
  nics: { mac: string }[];
}

describe('warm launch from a booted template (TCG)', { skip }, () => {
  let d: TestDaemon;
  let k1: { dir: string; key: string; pub: string };
  let k2: { dir: string; key: string; pub: string };
  let srcBootId = '';

  before(async () => {
    d = await TestDaemon.start();
    [k1, k2] = await Promise.all([makeSshKey(), makeSshKey()]);
  });
  after(async () => {
    await d?.cleanup();
    for (const k of [k1, k2]) if (k) rmSync(k.dir, { recursive: true, force: true });
  });

  test('a running tiny VM is saved as a template; refusals come first', async () => {
    const r = await d.cli('launch', 'tiny', 'src', '--ssh-key', `${k1.key}.pub`, '--memory', '256MiB', '--quiet');
    assert.equal(r.code, 0, r.stderr);
    await d.waitConsole('src', /NIMBO-READY src/);
    const src = await d.cliJson<Inst>('info', 'src');
    const boot = await sshUntil(k1.key, src.addresses[0]!, 60_000, 'cat /proc/sys/kernel/random/boot_id');
    assert.equal(boot.code, 0, boot.stderr);
    srcBootId = boot.stdout.trim();

    const missing = await d.api('POST', '/images/snapshot', { name: 'tpl', fromRunning: 'nosuch' });
    assert.equal(missing.status, 404, JSON.stringify(missing.body));
    const bad = await d.api('POST', '/images/snapshot', { name: 'Bad_Name', fromRunning: 'src' });
    assert.equal(bad.status, 400);
    const off = await d.cli('launch', 'tiny', 'off', '--no-start', '--quiet');
    assert.equal(off.code, 0, off.stderr);
    const stopped = await d.cli('image', 'snapshot', 'tpl', '--from-running', 'off');
    assert.notEqual(stopped.code, 0);
    assert.match(stopped.stderr, /off is stopped: a template is saved from a running VM/);
    assert.equal((await d.cli('delete', 'off', '--quiet')).code, 0);

    const ok = await d.cli('image', 'snapshot', 'tpl', '--from-running', 'src', '--quiet');
    assert.equal(ok.code, 0, ok.stderr);
    const img = (await d.api('GET', '/images/tpl')).body as { kind?: string; visibility: string; template?: { cpus: number; memory: number; nics: number; from: string } };
    assert.equal(img.kind, 'template');
    assert.equal(img.visibility, 'private');
    assert.deepEqual(img.template && [img.template.cpus, img.template.memory, img.template.nics, img.template.from], [1, 256 * 1024 ** 2, 1, 'src']);
    const again = await d.api('POST', '/images/snapshot', { name: 'tpl', fromRunning: 'src' });
    assert.equal(again.status, 409, 'the name is taken');
    // The source runs on, the same guest.
    assert.equal((await d.cliJson<Inst>('info', 'src')).state, 'running');
    const still = await ssh(k1.key, src.addresses[0]!, 'cat /proc/sys/kernel/random/boot_id; hostname');
    assert.equal(still.stdout, `${srcBootId}\nsrc\n`, still.stderr);
  });

  test('a launch with another shape is refused before anything is made', async () => {
    const cpus = await d.cli('launch', 'tpl', 'w9', '--cpus', '2');
    assert.equal(cpus.code, 2, cpus.stderr);
    assert.match(cpus.stderr, /template of a VM with 1 CPU/);
    const mem = await d.cli('launch', 'tpl', 'w9', '--memory', '512MiB');
    assert.match(mem.stderr, /256 MiB of memory/);
    const ct = await d.cli('launch', 'tpl', 'w9', '--container');
    assert.match(ct.stderr, /launch it as a VM/);
    assert.equal((await d.api('GET', '/instances/w9')).status, 404);
  });

  test('two warm launches reach SSH, each with its own hostname, key, MAC and address, restored not booted', async () => {
    const t0 = Date.now();
    const [a, b] = await Promise.all([
      d.cli('launch', 'tpl', 'w1', '--ssh-key', `${k1.key}.pub`, '--quiet'),
      d.cli('launch', 'tpl', 'w2', '--ssh-key', `${k2.key}.pub`, '--quiet'),
    ]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const seen: Record<string, string[]> = {};
    for (const [name, key] of [['w1', k1], ['w2', k2]] as const) {
      const info = await d.cliJson<Inst>('info', name);
      assert.equal(info.state, 'running');
      assert.equal(info.memory, 256 * 1024 ** 2);
      await d.waitConsole(name, new RegExp(`NIMBO-READY ${name}`));
      const ip = info.addresses[0]!;
      const out = await sshUntil(key.key, ip, 60_000, 'hostname; cat /proc/sys/kernel/random/boot_id; cut -d" " -f1 /proc/uptime; ip -4 -o addr show; cat /sys/class/net/eth0/address; date +%s');
      assert.equal(out.code, 0, out.stderr);
      const [host, bootId, uptime, ...rest] = out.stdout.trim().split('\n');
      assert.equal(host, name);
      assert.equal(bootId, srcBootId, 'the same kernel run as the template: restored, not booted');
      const age = (Date.now() - t0) / 1000;
      assert.ok(Number(uptime) > age, `uptime ${uptime} s is older than this launch (${age} s): it was not booted fresh`);
      assert.ok(rest.join('\n').includes(`${ip}/`), `its own address ${ip}: ${rest.join('\n')}`);
      assert.ok(rest.includes(info.nics[0]!.mac), `its own MAC ${info.nics[0]!.mac}`);
      assert.ok(Math.abs(Number(rest.at(-1)) - Date.now() / 1000) < 120, 'the clock was set');
      seen[name] = [host!, ip];
    }
    assert.notEqual(seen.w1![1], seen.w2![1]);
    // Each has only its own key.
    const wrong = await ssh(k1.key, seen.w2![1]!, 'true');
    assert.notEqual(wrong.code, 0, 'w2 does not take w1\'s key');
    // The source still runs as itself.
    const src = await d.cliJson<Inst>('info', 'src');
    const s = await ssh(k1.key, src.addresses[0]!, 'hostname');
    assert.equal(s.stdout, 'src\n', s.stderr);
  });

  test('a warm-launched VM boots its own disk cold after a stop and start', async () => {
    assert.equal((await d.cli('stop', 'w1', '--quiet')).code, 0);
    const t0 = Date.now();
    assert.equal((await d.cli('start', 'w1', '--quiet')).code, 0);
    const ip = (await d.cliJson<Inst>('info', 'w1')).addresses[0]!;
    const out = await sshUntil(k1.key, ip, 90_000, 'hostname; cat /proc/sys/kernel/random/boot_id; cut -d" " -f1 /proc/uptime');
    assert.equal(out.code, 0, out.stderr);
    const [host, bootId, uptime] = out.stdout.trim().split('\n');
    assert.equal(host, 'w1');
    assert.notEqual(bootId, srcBootId, 'a new kernel run');
    assert.ok(Number(uptime) <= (Date.now() - t0) / 1000 + 1, `uptime ${uptime} s: booted by this start`);
  });

  test('a template in use is not deleted; after its instances go, it is', async () => {
    const busy = await d.cli('image', 'delete', 'tpl');
    assert.notEqual(busy.code, 0);
    assert.match(busy.stderr, /used by/);
    for (const n of ['w1', 'w2', 'src']) assert.equal((await d.cli('delete', n, '--force', '--quiet')).code, 0);
    const del = await d.cli('image', 'delete', 'tpl', '--quiet');
    assert.equal(del.code, 0, del.stderr);
    assert.equal((await d.api('GET', '/images/tpl')).status, 404);
  });
});
