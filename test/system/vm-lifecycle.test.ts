import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { connect } from 'node:net';
import { ROOT, TestDaemon, makeSshKey, processAlive, sshUntil, ssh, systemSkipReason } from './harness.js';
import { runArgv } from '../../src/host/exec.js';
import { isVmId } from '../../src/core/vm-ids.js';
import { probeAs, reachable } from '../../src/drivers/compute/qemu/access-probe.js';
import { exposedTo, walk } from './state-access.js';
import { rfbHandshake } from './rfb-client.js';

const skip = systemSkipReason();

interface Inst {
  id: string;
  name: string;
  state: string;
  accelerator: string;
  addresses: string[];
  pid: number | null;
  cpus: number;
  memory: number;
  nics: { tap: string; mac: string }[];
}

describe('VM lifecycle on a real daemon (TCG)', { skip }, () => {
  let d: TestDaemon;
  let key: { dir: string; key: string; pub: string };

  before(async () => {
    d = await TestDaemon.start();
    key = await makeSshKey();
  });
  after(async () => {
    await d?.cleanup();
    if (key) rmSync(key.dir, { recursive: true, force: true });
  });

  test('builds the tiny image as an operation', async () => {
    const r = await d.cli('image', 'build', 'tiny', '--quiet');
    assert.equal(r.code, 0, r.stderr);
    const images = await d.cliJson<{ name: string; status: string; boot: string }[]>('image', 'list');
    assert.deepEqual(images.map((i) => [i.name, i.status, i.boot]), [['tiny', 'ready', 'direct']]);
  });

  test('launches tiny: reserved address, ready marker, SSH from the host; labels kept and filterable', async () => {
    // (the root disk is a linked clone of the image in the default pool, checked at the end of this test)
    const bad = await d.cli('launch', 'tiny', 'vm0', '--label', 'Bad Key=x', '--quiet');
    assert.equal(bad.code, 2, 'an invalid label key is invalid input');
    assert.match(bad.stderr, /label key "Bad Key" is invalid/);
    const r = await d.cli('launch', 'tiny', 'vm1', '--ssh-key', `${key.key}.pub`, '--memory', '256MiB', '--cpus', '1', '--label', 'tier=web', '--quiet');
    assert.equal(r.code, 0, r.stderr);
    const info = await d.cliJson<Inst & { labels?: Record<string, string> }>('info', 'vm1');
    assert.deepEqual(info.labels, { tier: 'web' });
    assert.equal((await d.cli('list', '--filter', 'label.tier=web', '--columns', 'name', '--no-header')).stdout, 'vm1\n');
    assert.match(info.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a UUID identifies the instance');
    assert.equal((await d.api('GET', '/instances/vm1')).body.id, info.id);
    assert.equal(info.state, 'running');
    assert.equal(info.accelerator, 'tcg');
    assert.equal(info.memory, 256 * 1024 * 1024);
    assert.equal(info.addresses.length, 1);
    assert.ok(info.addresses[0]!.startsWith(d.subnet.split('.').slice(0, 3).join('.') + '.'), `${info.addresses[0]} in ${d.subnet}`);
    assert.ok(info.pid && info.pid > 0);
    await d.waitConsole('vm1', /NIMBO-READY vm1/);
    const out = await sshUntil(key.key, info.addresses[0]!, 60_000, 'hostname; ip -4 -o addr show');
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^vm1\n/);
    assert.ok(out.stdout.includes(`${info.addresses[0]}/24`), out.stdout);
    const vols = (await d.api('GET', '/storage/pools/default/volumes')).body.volumes;
    assert.deepEqual(vols.map((v: { name: string; attachedTo: string; size: number }) => [v.name, v.attachedTo, v.size]), [[await d.rootVolumeOf('vm1'), 'vm1', 2 * 1024 ** 3]]);
  });

  test('QEMU runs unprivileged, as its own uid/gid, with its seccomp sandbox', async () => {
    const info = await d.cliJson<Inst>('info', 'vm1');
    const status = readFileSync(`/proc/${info.pid}/status`, 'utf8');
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)![1]);
    assert.ok(isVmId(uid), `uid ${uid} is from the per-VM range`);
    assert.match(status, new RegExp(`^Uid:\\s+${uid}\\s+${uid}\\s+${uid}\\s+${uid}$`, 'm'));
    assert.match(status, new RegExp(`^Gid:\\s+${uid}\\s+${uid}\\s+${uid}\\s+${uid}$`, 'm'));
    assert.match(status, new RegExp(`^Groups:\\s+${uid}\\s*$`, 'm'));
    assert.match(status, /^Seccomp:\s+2$/m);
    // Its disk is its uid's alone; its run dir is root's, entered by its group only.
    const rootName = await d.rootVolumeOf('vm1');
    const root = walk(join(d.stateDir, 'pools')).find((p) => p.endsWith(`/${rootName}`) || p.endsWith(`/${rootName}.qcow2`) || p.endsWith(`/${rootName}.raw`))!;
    const st = statSync(root);
    assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [uid, uid, 0o600]);
    const rd = statSync(await d.runDirOf('vm1'));
    assert.deepEqual([rd.uid, rd.gid, rd.mode & 0o7777], [0, uid, 0o750]);
  });

  test('an unprivileged user reaches no disk, socket, log, token or database; another VM\'s uid cannot open vm1\'s disk', async () => {
    const info = await d.cliJson<Inst>('info', 'vm1');
    const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${info.pid}/status`, 'utf8'))![1]);
    const nobody = await exposedTo(d.stateDir, 65534, 65534);
    assert.deepEqual(nobody.exposed, [], 'nobody reaches only public files');
    const id = await d.idOf('vm1');
    const rootName = `root-${id}`;
    const must = ['state.db', 'admin.token', 'logs/nimbod.log', `run/${id}/qmp.sock`, `run/${id}/serial.sock`, `run/${id}/vnc.sock`, `run/${id}/serial.log`];
    for (const f of must) assert.ok(join(d.stateDir, f) in nobody.probed, `${f} exists and was tried`);
    // The next VM's QEMU would run as uid + 1 (vm-ids.ts): it reaches nothing of vm1's either.
    const other = await exposedTo(d.stateDir, uid + 1, uid + 1);
    assert.deepEqual(other.exposed, []);
    const disk = walk(join(d.stateDir, 'pools')).find((p) => p.endsWith(`/${rootName}`) || p.endsWith(`/${rootName}.qcow2`) || p.endsWith(`/${rootName}.raw`))!;
    assert.equal(other.probed[disk], 'EACCES');
    assert.deepEqual(reachable(await probeAs(uid + 1, uid + 1, [disk], true)), [], 'nor for writing');
    // vm1's own uid reaches its disk (hot-plug reopens it) but none of the daemon's files or sockets.
    const own = await exposedTo(d.stateDir, uid, uid);
    assert.deepEqual(own.exposed.filter((p) => !p.endsWith(`${rootName}.qcow2`) && !p.endsWith(`${rootName}.raw`) && !p.startsWith(`run/${id}`)), []);
    assert.ok(own.exposed.some((p) => p.includes(rootName)), 'its own disk');
  });

  test('serial console: interactive over the API, and the VNC socket answers', async () => {
    const r = await runArgv([process.execPath, join(ROOT, 'dist/src/cli/main.js'), 'console', 'vm1'], {
      input: 'echo CONSOLE-$((6*7))\n',
      allowFailure: true,
      timeoutMs: 60_000,
      env: { ...process.env, NIMBO_URL: d.url, NIMBO_TOKEN: d.token },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /CONSOLE-42/);
    const log = await d.cli('console', 'vm1', '--log');
    assert.match(log.stdout, /NIMBO-READY vm1/, 'boot output before any viewer attached is in the log');
    const vm1Run = await d.runDirOf('vm1');
    const banner = await new Promise<string>((resolve, reject) => {
      const s = connect(join(vm1Run, 'vnc.sock'));
      s.once('data', (b) => { resolve(b.toString()); s.destroy(); });
      s.once('error', reject);
    });
    assert.match(banner, /^RFB 003\.008/);
  });

  test('VGA console: RFB over the /vnc WebSocket with an instance ticket, as noVNC does it', async () => {
    const ticket = async (instance?: string) => ((await d.api('POST', '/auth/ticket', instance ? { instance } : undefined)).body as { ticket: string }).ticket;
    const open = async (name: string, t: string) => {
      const ws = new WebSocket(`${d.url.replace('http', 'ws')}/api/v1/instances/${name}/vnc?ticket=${t}`, ['binary']);
      await new Promise((ok, fail) => { ws.once('open', ok); ws.once('error', fail); });
      return ws;
    };
    const ws = await open('vm1', await ticket('vm1'));
    assert.equal(ws.protocol, 'binary', "noVNC's subprotocol is accepted");
    const init = await rfbHandshake(ws);
    ws.close();
    assert.equal(init.version, 'RFB 003.008');
    assert.ok(init.width > 0 && init.height > 0, `framebuffer ${init.width}x${init.height}`);
    // The ticket was vm1's: another instance's VGA console does not open with it, and a missing one closes with 4404.
    const refused = await new Promise<number>((resolve) => {
      const w = new WebSocket(`${d.url.replace('http', 'ws')}/api/v1/instances/ghost/vnc?ticket=${'x'}`);
      w.on('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0));
      w.on('error', () => undefined);
    });
    assert.equal(refused, 401);
    const ghost = await open('ghost', await ticket('ghost'));
    const [code, reason] = await new Promise<[number, string]>((resolve) => ghost.once('close', (c, r) => resolve([c, r.toString()])));
    assert.deepEqual([code, reason], [4404, 'no instance ghost']);
  });

  test('virtio devices: net, blk and rng', async () => {
    const info = await d.cliJson<Inst>('info', 'vm1');
    const out = await ssh(key.key, info.addresses[0]!, 'cat /sys/class/misc/hw_random/rng_current; ls /sys/bus/virtio/drivers');
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /virtio_rng/);
    assert.match(out.stdout, /virtio_net/);
    assert.match(out.stdout, /virtio_blk/);
  });

  test('events are pushed on the WebSocket', async () => {
    const ws = new WebSocket(`${d.url.replace('http', 'ws')}/api/v1/events`, { headers: { authorization: `Bearer ${d.token}` } });
    const seen: { type: string; target: string; data: { state?: string; status?: string } }[] = [];
    ws.on('message', (m) => seen.push(JSON.parse(m.toString())));
    await new Promise((r) => ws.once('open', r));
    assert.equal((await d.cli('pause', 'vm1', '--quiet')).code, 0);
    assert.equal((await d.cli('resume', 'vm1', '--quiet')).code, 0);
    ws.close();
    assert.ok(seen.some((e) => e.type === 'instance' && e.target === 'vm1' && e.data.state === 'paused'), JSON.stringify(seen));
    assert.ok(seen.some((e) => e.type === 'operation' && e.data.status === 'success'));
  });

  test('pause and resume (pause -o json: only the final operations, as an array, with the instance as result)', async () => {
    const paused = await d.cli('pause', 'vm1', '-o', 'json');
    assert.equal(paused.code, 0, paused.stderr);
    assert.equal(paused.stderr, '', 'no progress when stderr is not a terminal');
    const ops = JSON.parse(paused.stdout) as { kind: string; status: string; result: Inst }[];
    assert.deepEqual(ops.map((o) => [o.kind, o.status, o.result.name, o.result.state]), [['instance.pause', 'success', 'vm1', 'paused']]);
    assert.equal((await d.cliJson<Inst>('info', 'vm1')).state, 'paused');
    const info = await d.cliJson<Inst>('info', 'vm1');
    const blocked = await ssh(key.key, info.addresses[0]!, '-o', 'ConnectTimeout=3', 'true');
    assert.notEqual(blocked.code, 0, 'a paused guest does not answer');
    assert.equal((await d.cli('resume', 'vm1', '--quiet')).code, 0);
    assert.equal((await d.cliJson<Inst>('info', 'vm1')).state, 'running');
    assert.equal((await sshUntil(key.key, info.addresses[0]!, 30_000, 'true')).code, 0);
  });

  test('stop, start and restart', async () => {
    const before = await d.cliJson<Inst>('info', 'vm1');
    const stop = await d.cli('stop', 'vm1', '--timeout', '20', '--quiet');
    assert.equal(stop.code, 0, stop.stderr);
    const stopped = await d.cliJson<Inst>('info', 'vm1');
    assert.equal(stopped.state, 'stopped');
    assert.equal(stopped.pid, null);
    assert.equal((await d.cli('start', 'vm1', '--quiet')).code, 0);
    const started = await d.cliJson<Inst>('info', 'vm1');
    assert.equal(started.state, 'running');
    assert.deepEqual(started.addresses, before.addresses, 'the address is kept');
    assert.equal((await sshUntil(key.key, started.addresses[0]!, 90_000, 'hostname')).stdout.trim(), 'vm1');
    assert.equal((await d.cli('restart', 'vm1', '--force', '--quiet')).code, 0);
    const restarted = await d.cliJson<Inst>('info', 'vm1');
    assert.notEqual(restarted.pid, started.pid);
    assert.equal((await sshUntil(key.key, restarted.addresses[0]!, 90_000, 'hostname')).stdout.trim(), 'vm1');
  });

  test('a SIGKILLed daemon re-adopts the running VM', async () => {
    const before = await d.cliJson<Inst>('info', 'vm1');
    await d.stop('SIGKILL');
    assert.ok(processAlive(before.pid!), 'the VM outlives its daemon');
    await d.launch();
    const after = await d.cliJson<Inst>('info', 'vm1');
    assert.equal(after.state, 'running');
    assert.equal(after.pid, before.pid, 'the same QEMU process, not a new one');
    const qemus = (await runArgv(['pgrep', '-f', await d.runDirOf('vm1')], { allowFailure: true })).stdout.trim().split('\n').filter(Boolean);
    assert.equal(qemus.length, 1, 'exactly one QEMU for vm1');
    assert.equal((await sshUntil(key.key, after.addresses[0]!, 30_000, 'hostname')).stdout.trim(), 'vm1');
    // the console is re-attached too
    const log = await d.api('GET', '/instances/vm1/console/log');
    assert.equal(log.status, 200);
  });

  test('VPS actions: rescue boots tiny with vm1\'s own disk as /dev/vdc (kept across a daemon restart), unrescue, rebuild, online disk resize', async (t) => {
    const t0 = Date.now();
    const lap = (what: string) => t.diagnostic(`${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const info = await d.cliJson<Inst>('info', 'vm1');
    const addr = info.addresses[0]!;
    assert.equal((await sshUntil(key.key, addr, 90_000, 'echo mine > /root/marker && sync')).code, 0);
    const rescue = await d.cli('rescue', 'vm1');
    assert.equal(rescue.code, 0, rescue.stderr);
    assert.match(rescue.stdout, /vm1 runs the rescue system tiny; its own root is its second disk/);
    const inRescue = await d.cliJson<Inst & { rescue?: { image: string } }>('info', 'vm1');
    assert.deepEqual([inRescue.state, inRescue.rescue?.image, inRescue.addresses], ['rescue', 'tiny', info.addresses]);
    // The rescue system has the instance's address, name and keys (its seed), its own fresh root, and the instance's disk.
    const look = await sshUntil(key.key, addr, 90_000, 'hostname; cat /root/marker 2>/dev/null || echo no-marker; for i in $(seq 30); do [ -b /dev/vdc ] && break; sleep 1; done; mkdir -p /mnt/own && mount /dev/vdc /mnt/own && cat /mnt/own/root/marker && umount /mnt/own');
    assert.equal(look.stdout, 'vm1\nno-marker\nmine\n', look.stderr);
    lap('in rescue');
    // Recorded in the instance: a SIGKILLed daemon comes back to the same rescue system.
    await d.stop('SIGKILL');
    await d.launch();
    const adopted = await d.cliJson<Inst>('info', 'vm1');
    assert.deepEqual([adopted.state, adopted.pid], ['rescue', inRescue.pid]);
    assert.equal((await d.cli('rebuild', 'vm1', 'tiny')).code, 4, 'no rebuild while in rescue');

    const un = await d.cli('unrescue', 'vm1', '--quiet');
    assert.equal(un.code, 0, un.stderr);
    assert.equal((await d.cliJson<Inst>('info', 'vm1')).state, 'running');
    assert.equal((await sshUntil(key.key, addr, 90_000, 'cat /root/marker')).stdout, 'mine\n', 'its own root again');
    assert.equal(((await d.api('GET', '/storage/pools/default/volumes')).body.volumes as unknown[]).length, 1, 'the rescue disk is deleted');

    lap('unrescued');
    // rebuild: a fresh root from the image, same id, address and keys.
    const rb = await d.cli('rebuild', 'vm1', 'tiny', '--quiet');
    assert.equal(rb.code, 0, rb.stderr);
    const rebuilt = await d.cliJson<Inst>('info', 'vm1');
    assert.deepEqual([rebuilt.id, rebuilt.addresses, rebuilt.state], [info.id, info.addresses, 'running']);
    assert.equal((await sshUntil(key.key, addr, 90_000, 'cat /root/marker 2>/dev/null || echo fresh; hostname')).stdout, 'fresh\nvm1\n');

    lap('rebuilt');
    // resize: the disk grows while it runs, and the guest sees it; shrinking, and CPUs past the maximum while running, are refused.
    const grow = await d.cli('resize', 'vm1', '--disk', '3GiB', '--quiet');
    assert.equal(grow.code, 0, grow.stderr);
    assert.equal((await ssh(key.key, addr, 'cat /sys/block/vda/size')).stdout.trim(), String((3 * 1024 ** 3) / 512));
    const shrink = await d.cli('resize', 'vm1', '--disk', '2GiB');
    assert.equal(shrink.code, 2, shrink.stderr);
    assert.match(shrink.stderr, /shrinking it to 2147483648 is refused/);
    // Launched without --max-cpus: no hot-add room, so more CPUs while it runs are past its maximum (400).
    const cpus = await d.cli('resize', 'vm1', '--cpus', '2');
    assert.equal(cpus.code, 2, cpus.stderr);
    assert.match(cpus.stderr, /at most 1 vCPUs \(its maximum/);

    lap('resized');
    // reset-password: a generated password, shown once; the running tiny VM (it has the guest agent) takes it at once,
    // and the seed keeps it for later boots (a power cycle here).
    const reset = await d.cli('reset-password', 'vm1');
    assert.equal(reset.code, 0, reset.stderr);
    assert.match(reset.stdout, /set in the running VM \(through its guest agent\); the seed keeps it for later boots/);
    const password = /New root password for vm1: (\S+)/.exec(reset.stderr)?.[1];
    assert.ok(password, reset.stderr);
    assert.equal((await d.cli('powercycle', 'vm1', '--quiet')).code, 0);
    const shadow = (await sshUntil(key.key, addr, 90_000, 'grep ^root: /etc/shadow')).stdout.split(':')[1] ?? '';
    const salt = shadow.split('$')[2] ?? '';
    const again = await runArgv(['openssl', 'passwd', '-6', '-salt', salt, '-stdin'], { input: `${password}\n` });
    assert.equal(shadow, again.stdout.trim(), "root's hash in the guest is the new password's");
    lap('password applied');
  });

  test('image publish: a private image from the stopped vm1 boots with vm1\'s files; it is deleted when unused', async () => {
    const info = await d.cliJson<Inst>('info', 'vm1');
    assert.equal((await sshUntil(key.key, info.addresses[0]!, 90_000, 'echo golden > /root/golden && sync')).code, 0);
    assert.equal((await d.cli('image', 'publish', 'vm1', 'gold', '--quiet')).code, 4, 'a running VM is refused');
    assert.equal((await d.cli('stop', 'vm1', '--quiet')).code, 0);
    const pub = await d.cli('image', 'publish', 'vm1', 'gold', '--quiet');
    assert.equal(pub.code, 0, pub.stderr);
    const list = await d.cliJson<{ name: string; visibility: string; source: string }[]>('image', 'list');
    assert.deepEqual(list.filter((i) => i.name === 'gold').map((i) => [i.visibility, i.source]), [['private', 'instance:vm1']]);
    const l = await d.cli('launch', 'gold', 'vm9', '--ssh-key', `${key.key}.pub`, '--memory', '256MiB', '--quiet');
    assert.equal(l.code, 0, l.stderr);
    const vm9 = await d.cliJson<Inst & { image: string }>('info', 'vm9');
    assert.equal(vm9.image, 'gold');
    assert.equal((await sshUntil(key.key, vm9.addresses[0]!, 90_000, 'cat /root/golden; hostname')).stdout, 'golden\nvm9\n');
    assert.equal((await d.cli('image', 'delete', 'gold')).code, 4, 'in use by vm9');
    assert.equal((await d.cli('delete', 'vm9', '--force', '--quiet')).code, 0);
    const del = await d.cli('image', 'delete', 'gold', '--quiet');
    assert.equal(del.code, 0, del.stderr);
    assert.deepEqual(d.files('images/.private/default'), [], 'its files are gone');
    assert.equal((await d.cli('start', 'vm1', '--quiet')).code, 0);
    assert.equal((await sshUntil(key.key, info.addresses[0]!, 90_000, 'hostname')).stdout.trim(), 'vm1');
  });

  test('delete refuses a running VM without --force, then removes tap, disk and lease', async () => {
    const info = await d.cliJson<Inst>('info', 'vm1');
    const refused = await d.cli('delete', 'vm1');
    assert.equal(refused.code, 4, 'a conflict');
    assert.equal(refused.stderr, 'nimbo: error: instance vm1 is running; stop it first (nimbo stop vm1) or pass --force\n');
    assert.equal((await d.cli('delete', 'vm1', '--force', '--quiet')).code, 0);
    assert.equal((await d.cli('info', 'vm1')).code, 3);
    assert.deepEqual(await d.links(), [`${d.prefix}br0`], 'only the bridge is left');
    assert.deepEqual(d.files('instances'), []);
    assert.deepEqual((await d.api('GET', '/storage/pools/default/volumes')).body.volumes, [], 'the root volume is gone');
    const hosts = readFileSync(join(d.stateDir, 'networks', 'default', 'dhcp-hosts'), 'utf8');
    assert.ok(!hosts.includes(info.nics[0]!.mac), 'no DHCP reservation left');
    assert.ok(!processAlive(info.pid!), 'QEMU is gone');
  });

  test('a create that fails half-way rolls back its disk, tap and address', async () => {
    const img = await d.api('GET', '/images/tiny');
    assert.equal(img.status, 200);
    // Break the image's disk so that creating the overlay fails after the address and record exist.
    const disk = join(d.stateDir, 'images', 'tiny', 'disk.qcow2');
    const saved = readFileSync(disk);
    rmSync(disk);
    try {
      const r = await d.cli('launch', 'tiny', 'broken', '--quiet');
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /does not exist|qemu-img/);
      assert.equal((await d.api('GET', '/instances/broken')).status, 404);
      assert.deepEqual((await d.api('GET', '/storage/pools/default/volumes')).body.volumes, [], 'no root volume left');
      assert.deepEqual(await d.links(), [`${d.prefix}br0`]);
      assert.deepEqual(d.files('instances'), []);
    } finally {
      const { writeFileSync } = await import('node:fs');
      writeFileSync(disk, saved);
    }
  });
});

describe('two daemons side by side', { skip }, () => {
  test('each has its own bridge, nft table and subnet', async () => {
    const [a, b] = await Promise.all([TestDaemon.start(), TestDaemon.start()]);
    try {
      assert.notEqual(a.prefix, b.prefix);
      const ha = (await a.api('GET', '/host')).body;
      const hb = (await b.api('GET', '/host')).body;
      assert.equal(ha.network.bridge, `${a.prefix}br0`);
      assert.equal(hb.network.bridge, `${b.prefix}br0`);
      assert.notEqual(ha.network.subnet, hb.network.subnet);
      const tables = (await runArgv(['nft', 'list', 'tables'])).stdout;
      assert.match(tables, new RegExp(`inet ${a.prefix}\\b`));
      assert.match(tables, new RegExp(`inet ${b.prefix}\\b`));
      assert.deepEqual(await a.links(), [`${a.prefix}br0`]);
    } finally {
      await Promise.all([a.cleanup(), b.cleanup()]);
    }
    const tables = (await runArgv(['nft', 'list', 'tables'])).stdout;
    assert.ok(!tables.includes(`inet ${a.prefix}`));
  });
});
