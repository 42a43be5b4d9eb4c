import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, TestDaemon, systemSkipReason } from './harness.js';
import { runArgv } from '../../src/host/exec.js';

const skip = systemSkipReason() ?? (existsSync('/usr/sbin/runc') ? undefined : 'runc is not installed (run scripts/setup.sh)');
const MAIN = join(ROOT, 'dist/src/cli/main.js');

/** Every cgroup directory down to the depth nimbo uses (HIERARCHY/nimbo-PREFIX/CONTAINER/...). */
function cgroupTree(): string {
  const root = '/sys/fs/cgroup';
  const out: string[] = [];
  const walk = (dir: string, depth: number) => {
    out.push(dir);
    if (depth === 0) return;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) walk(join(dir, e.name), depth - 1);
  };
  walk(root, 4);
  return out.join('\n');
}

/** The host state uninstall must restore, by source; each line is later kept only when it names the prefix. */
async function hostState(): Promise<Record<string, string>> {
  const cmd = async (...argv: string[]) => (await runArgv(argv, { allowFailure: true })).stdout;
  return {
    links: await cmd('ip', '-d', 'link', 'show'),
    netns: await cmd('ip', 'netns', 'list'),
    nft: await cmd('nft', 'list', 'ruleset'),
    mounts: readFileSync('/proc/mounts', 'utf8'),
    cgroups: cgroupTree(),
    processes: await cmd('ps', '-eo', 'pid,user,args'),
    loops: await cmd('losetup', '-a'),
    routes: (await cmd('ip', 'route', 'show', 'table', 'all')) + (await cmd('ip', '-6', 'route', 'show', 'table', 'all')),
    rules: await cmd('ip', 'rule'),
  };
}

/** The lines of each source that mention `needle` (the run's prefix, which is also in its state dir's name). */
function ofPrefix(state: Record<string, string>, needle: string): Record<string, string[]> {
  return Object.fromEntries(Object.entries(state).map(([k, v]) => [k, v.split('\n').filter((l) => l.includes(needle))]));
}

/** A /24 in 10.150-199.x that no route overlaps (the harness's default network takes 10.200-249). */
async function freeSubnet(): Promise<string> {
  const routes = (await runArgv(['ip', '-4', 'route', 'show', 'table', 'all'])).stdout;
  for (let i = 0; i < 100; i++) {
    const net = `10.${150 + Math.floor(Math.random() * 50)}.${Math.floor(Math.random() * 256)}`;
    if (!routes.includes(`${net}.`)) return `${net}.0/24`;
  }
  throw new Error('no free test subnet');
}

const uninstall = (d: TestDaemon, ...flags: string[]) => d.cli('admin', 'uninstall', '--state-dir', d.stateDir, ...flags);

describe('nimbo admin uninstall', { skip }, () => {
  const daemons: TestDaemon[] = [];
  after(async () => {
    // Only does something when a test failed half-way: uninstall already removed everything otherwise.
    for (const d of daemons) await d.cleanup();
  });

  test('stops everything and leaves the host byte-for-byte as before (network, VM, container; --data)', { timeout: 240_000 }, async (t) => {
    const before = await hostState();
    const d = await TestDaemon.start();
    daemons.push(d);
    const run = async (...args: string[]) => {
      const r = await d.cli(...args);
      assert.equal(r.code, 0, `nimbo ${args.join(' ')}: ${r.stderr}`);
    };
    await run('image', 'build', 'tiny', '--quiet');
    await run('network', 'create', 'un1', '--subnet', await freeSubnet(), '--ipv6', 'none', '--quiet');
    await run('launch', 'tiny', 'vm1', '--memory', '128MiB', '--network', 'un1', '--quiet');
    await run('launch', 'tiny', 'ct1', '--container', '--memory', '64MiB', '--network', 'un1', '--network', 'default', '--quiet');
    const during = ofPrefix(await hostState(), d.prefix);
    // Everything the rules must reach is there now, so the test cannot pass on a host that never had it.
    assert.ok(during.links.some((l) => /: t[0-9a-f]{4}br1: /.test(l)), 'bridge of un1');
    assert.ok(during.netns.length === 1, `netns: ${during.netns.join('|')}`);
    assert.ok(during.nft.some((l) => l.includes(`table inet ${d.prefix}`)) && during.nft.some((l) => l.includes(`table bridge ${d.prefix}`)), 'nft tables');
    assert.ok(during.processes.some((l) => /qemu-system/.test(l)) && during.processes.filter((l) => /dnsmasq/.test(l)).length === 2, during.processes.join('\n'));
    assert.ok(during.mounts.some((l) => / overlay /.test(l) || /\/rootfs /.test(l)), during.mounts.join('\n'));
    const ctId = await d.idOf('ct1'); // its cgroup is named by its UUID
    assert.ok(during.cgroups.some((l) => l.endsWith(`nimbo-${d.prefix}/${ctId}`)), during.cgroups.join('\n'));
    const linksDuring = await d.links();
    // Two bridges, the VM's tap and the container's two veths.
    assert.ok(linksDuring.length >= 5, linksDuring.join(' '));

    // Without a terminal and without --yes it refuses, and changes nothing.
    const refused = await uninstall(d, '--data');
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /pass --yes/);
    assert.deepEqual(await d.links(), linksDuring);
    // A user other than root is refused with the permission exit code, changing nothing (checked where that user
    // can read the CLI at all: a checkout under a 0700 /root is not readable by nobody).
    const nobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', process.execPath];
    if ((await runArgv([...nobody, '-e', `require('fs').accessSync(${JSON.stringify(MAIN)})`], { allowFailure: true })).code === 0) {
      const asNobody = await runArgv([...nobody, MAIN, 'admin', 'uninstall', '--yes', '--state-dir', d.stateDir], { allowFailure: true });
      assert.equal(asNobody.code, 6, asNobody.stderr);
      assert.match(asNobody.stderr, /must run as root/);
      assert.deepEqual(await d.links(), linksDuring);
    } else t.diagnostic(`not checked as nobody: ${MAIN} is not readable by that user`);

    const t0 = Date.now();
    const r = await uninstall(d, '--yes', '--data');
    t.diagnostic(`uninstall (${Date.now() - t0} ms): ${r.stdout.trim().split('\n').join('; ')}`);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /stopped instance vm1/);
    assert.match(r.stdout, /removed state dir/);
    const afterState = ofPrefix(await hostState(), d.prefix);
    assert.deepEqual(afterState, ofPrefix(before, d.prefix));
    assert.ok(Object.values(afterState).every((lines) => lines.length === 0));
    assert.equal(existsSync(d.stateDir), false);
    assert.notEqual(d.proc!.exitCode ?? d.proc!.signalCode, null, 'nimbod has exited');
    assert.ok(Date.now() - t0 < 60_000, `uninstall took ${Date.now() - t0} ms`);
    // Twice is harmless.
    // With the state dir gone, nothing records the prefix: uninstall will not guess it.
    const guess = await uninstall(d, '--yes');
    assert.equal(guess.code, 2, guess.stderr);
    assert.match(guess.stderr, /pass --prefix/);
    const again = await uninstall(d, '--yes', '--prefix', d.prefix);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /nothing of prefix/);
  });

  test('cleans up after a daemon killed with SIGKILL, its instances still running', { timeout: 180_000 }, async (t) => {
    const before = await hostState();
    const d = await TestDaemon.start();
    daemons.push(d);
    const r1 = await d.cli('image', 'build', 'tiny', '--quiet');
    assert.equal(r1.code, 0, r1.stderr);
    const r2 = await d.cli('launch', 'tiny', 'ct1', '--container', '--memory', '64MiB', '--quiet');
    assert.equal(r2.code, 0, r2.stderr);
    const r4 = await d.cli('launch', 'tiny', 'vm1', '--memory', '128MiB', '--quiet');
    assert.equal(r4.code, 0, r4.stderr);
    await d.stop('SIGKILL');
    assert.ok(ofPrefix(await hostState(), d.prefix).processes.some((l) => /qemu-system/.test(l)), 'the VM outlives its daemon');
    // Decoys that carry the prefix but not a shape nimbo makes: a veth pair named like a bridge, a bridge named otherwise.
    await runArgv(['ip', 'link', 'add', `${d.prefix}br9`, 'type', 'veth', 'peer', 'name', `${d.prefix}y`]);
    await runArgv(['ip', 'link', 'add', `${d.prefix}x`, 'type', 'bridge']);

    const r = await uninstall(d, '--yes');
    t.diagnostic(`uninstall: ${r.stdout.trim().split('\n').join('; ')}`);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /cleaning up without it/);
    assert.match(r.stdout, /stopped container /);
    assert.match(r.stdout, /stopped process \d+ \S*qemu-system/);
    assert.deepEqual((await d.links()).sort(), [`${d.prefix}br9`, `${d.prefix}x`, `${d.prefix}y`]);
    for (const decoy of [`${d.prefix}br9`, `${d.prefix}x`]) await runArgv(['ip', 'link', 'del', decoy]);
    const afterState = ofPrefix(await hostState(), d.prefix);
    // The state dir stays without --data (its path carries the prefix): only lines naming it as a path could remain.
    assert.deepEqual(afterState, ofPrefix(before, d.prefix));
    assert.ok(existsSync(join(d.stateDir, 'state.db')));
    const r3 = await uninstall(d, '--yes', '--data');
    assert.equal(r3.code, 0, r3.stdout + r3.stderr);
    assert.equal(existsSync(d.stateDir), false);
  });
});
