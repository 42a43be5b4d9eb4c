import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { TestDaemon, makeSshKey, sleep, ssh, sshUntil, systemSkipReason } from './harness.js';
import { runArgv } from '../../src/host/exec.js';
import { exposedTo } from './state-access.js';
import WebSocket from 'ws';

const skip = systemSkipReason() ?? (existsSync('/usr/sbin/runc') ? undefined : 'runc is not installed (run scripts/setup.sh)');

interface Inst { name: string; type: string; state: string; addresses: string[] }

describe('system containers on a real daemon (runc)', { skip }, () => {
  let d: TestDaemon;
  let key: { dir: string; key: string; pub: string };
  const run = async (...args: string[]) => {
    const r = await d.cli(...args);
    assert.equal(r.code, 0, `nimbo ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  // runc ids come from instance UUIDs: looked up once (also after a delete, the id stays known).
  const ids = new Map<string, string>();
  const runtimeId = async (name: string) => {
    if (!ids.has(name)) ids.set(name, await d.runtimeIdOf(name));
    return ids.get(name)!;
  };
  const runcState = async (name: string) => {
    const r = await runArgv(['runc', '--root', join(d.stateDir, 'run', 'runc'), 'state', await runtimeId(name)], { allowFailure: true });
    return r.code === 0 ? (JSON.parse(r.stdout) as { status: string; pid: number }) : null;
  };

  before(async () => {
    d = await TestDaemon.start();
    key = await makeSshKey();
    await run('image', 'build', 'tiny', '--quiet');
  });
  after(async () => {
    await d?.cleanup();
    if (key) rmSync(key.dir, { recursive: true, force: true });
  });

  test('a tiny system container boots its init, gets its address and answers SSH', async () => {
    const t0 = Date.now();
    await run('launch', 'tiny', 'ct1', '--container', '--ssh-key', `${key.key}.pub`, '--memory', '64MiB', '--pids', '64', '--cpu-weight', '200', '--swap', '32MiB', '--quiet');
    const info = await d.cliJson<Inst>('info', 'ct1');
    assert.equal(info.type, 'container');
    assert.equal(info.state, 'running');
    await d.waitConsole('ct1', /NIMBO-READY ct1/, 60_000);
    const ready = Date.now() - t0;
    const out = await sshUntil(key.key, info.addresses[0]!, 30_000, 'hostname; ip -4 -o addr show eth0');
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^ct1\n/);
    assert.ok(out.stdout.includes(info.addresses[0]!), out.stdout);
    assert.ok(ready < 60_000);
    // A VM on the same network reaches the container (same bridge, IPAM and firewall).
    await run('launch', 'tiny', 'vm1', '--ssh-key', `${key.key}.pub`, '--memory', '192MiB', '--quiet');
    const vm = await d.cliJson<Inst>('info', 'vm1');
    await d.waitConsole('vm1', /NIMBO-READY vm1/);
    const fromVm = await sshUntil(key.key, vm.addresses[0]!, 60_000, `ping -c 1 -W 3 ${info.addresses[0]} && ping -c 1 -W 3 ct1.default`);
    assert.equal(fromVm.code, 0, fromVm.stdout + fromVm.stderr);
    await run('delete', 'vm1', '--force', '--quiet');
    // Live usage: CPU, memory, pids and the NIC's traffic (the SSH sessions and pings above).
    const live = (await d.api('GET', '/instances/ct1')).body as { usage?: { cpuSeconds: number; memoryBytes: number; pids: number }; nics: { counters?: { rxBytes: number; txBytes: number; rxPackets: number } }[] };
    assert.ok(live.usage && live.usage.memoryBytes > 0 && live.usage.pids >= 2 && live.usage.cpuSeconds >= 0, JSON.stringify(live.usage));
    const c = live.nics[0]?.counters;
    assert.ok(c && c.rxBytes > 1000 && c.txBytes > 1000 && c.rxPackets > 5, JSON.stringify(c));
  });

  test('exec passes the exit code through', async () => {
    const r = await d.cli('exec', 'ct1', '--', 'sh', '-c', 'echo out; echo err >&2; exit 7');
    assert.equal(r.code, 7);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
    assert.equal((await d.cli('exec', 'ct1', '--', 'true')).code, 0);
    // -t: on a pty, interactive; what is typed reaches the command and its exit code comes back.
    const t = await d.cli('exec', '-t', 'ct1', '--', 'sh', '-c', 'tty; sleep 0.3; exit 9');
    assert.equal(t.code, 9, t.stderr);
    assert.match(t.stdout, /^\/dev\/pts\/\d+\r?$/m);
    const typed = await runArgv([process.execPath, join(process.cwd(), 'dist/src/cli/main.js'), 'exec', '-t', 'ct1', '--', 'sh', '-c', 'read x; exit $((${#x}+10))'], {
      allowFailure: true, timeoutMs: 60_000, input: 'typed\n', env: { ...process.env, NIMBO_URL: d.url, NIMBO_TOKEN: d.token },
    });
    assert.equal(typed.code, 15, `the typed line reached the command: ${typed.stdout}${typed.stderr}`);
  });

  test('file push and pull copy bytes exactly', async () => {
    const local = join(key.dir, 'blob.bin');
    const back = join(key.dir, 'blob.back');
    writeFileSync(local, randomBytes(200_000));
    await run('file', 'push', local, 'ct1:/root/blob.bin', '--mode', '0600');
    const ls = await d.cli('exec', 'ct1', '--', 'ls', '-l', '/root/blob.bin');
    assert.match(ls.stdout, /^-rw------- .* 200000 /);
    await run('file', 'pull', 'ct1:/root/blob.bin', back);
    assert.ok(readFileSync(back).equals(readFileSync(local)));
    const missing = await d.cli('file', 'pull', 'ct1:/nope', back);
    assert.equal(missing.code, 3); // not found
    assert.match(missing.stderr, /nope/);
  });

  test('a NIC on another network is plugged into the running container and removed again', async () => {
    await run('network', 'create', 'side', '--ipv6', 'none', '--quiet');
    await run('network', 'attach', 'ct1', 'side', '--quiet');
    const info = await d.cliJson<Inst & { nics: { name: string; network: string; address: string }[] }>('info', 'ct1');
    const eth1 = info.nics.find((n) => n.network === 'side')!;
    const seen = await d.cli('exec', 'ct1', '--', 'ip', '-4', '-o', 'addr', 'show', 'eth1');
    assert.ok(seen.stdout.includes(eth1.address), seen.stdout);
    await run('network', 'detach', 'ct1', 'side', '--quiet');
    const gone = await d.cli('exec', 'ct1', '--', 'ip', 'link', 'show', 'eth1');
    assert.notEqual(gone.code, 0);
    await run('network', 'delete', 'side', '--quiet');
  });

  test('the console of a container is a login shell on a pty', async () => {
    // As a browser does it: a single-use ticket in the URL, never the token.
    const { ticket } = (await d.api('POST', '/auth/ticket', { instance: 'ct1' })).body as { ticket: string };
    const ws = new WebSocket(`${d.url.replace('http', 'ws')}/api/v1/instances/ct1/console?ticket=${ticket}`);
    let out = '';
    ws.on('message', (b: Buffer) => (out += b.toString()));
    await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
    for (let i = 0; i < 50 && out === ''; i++) await sleep(100); // the shell's first prompt
    ws.send('echo CONSOLE-$((6*7)); tty\r');
    for (let i = 0; i < 50 && !/CONSOLE-42/.test(out); i++) await sleep(100);
    ws.close();
    assert.match(out, /CONSOLE-42/);
    assert.match(out, /\/dev\/pts\/\d+/);
  });

  test('a container has no VGA console: /vnc closes with 4404 and says so', async () => {
    const { ticket } = (await d.api('POST', '/auth/ticket', { instance: 'ct1' })).body as { ticket: string };
    const ws = new WebSocket(`${d.url.replace('http', 'ws')}/api/v1/instances/ct1/vnc?ticket=${ticket}`);
    const [code, reason] = await new Promise<[number, string]>((r, j) => (ws.once('close', (c, why) => r([c, why.toString()])), ws.once('error', j)));
    assert.equal(code, 4404);
    assert.equal(reason, 'instance ct1 has no VGA console (only VMs have one): use its console or exec');
  });

  test('user namespace and limits, seen from the host', async () => {
    const st = await runcState('ct1');
    assert.ok(st && st.pid > 0);
    const uidMap = readFileSync(`/proc/${st.pid}/uid_map`, 'utf8').trim().split(/\s+/).map(Number);
    assert.equal(uidMap[0], 0);
    assert.ok(uidMap[1]! >= 1_000_000, `container root maps to host uid ${uidMap[1]}`);
    assert.equal(uidMap[2], 65536);
    const status = readFileSync(`/proc/${st.pid}/status`, 'utf8');
    assert.match(status, new RegExp(`^Uid:\\s+${uidMap[1]}\\s`, 'm'));
    const cgroup = readFileSync(`/proc/${st.pid}/cgroup`, 'utf8');
    const mem = /:memory:(\S+)/.exec(cgroup)?.[1];
    if (mem) assert.equal(readFileSync(`/sys/fs/cgroup/memory${mem}/memory.limit_in_bytes`, 'utf8').trim(), String(64 * 1024 * 1024));
    if (mem && existsSync(`/sys/fs/cgroup/memory${mem}/memory.memsw.limit_in_bytes`)) {
      assert.equal(readFileSync(`/sys/fs/cgroup/memory${mem}/memory.memsw.limit_in_bytes`, 'utf8').trim(), String(96 * 1024 * 1024));
    }
    const cpu = /:cpu,cpuacct:(\S+)|:cpu:(\S+)/.exec(cgroup);
    const cpuFile = cpu?.[1] ? `/sys/fs/cgroup/cpu,cpuacct${cpu[1]}/cpu.shares` : cpu?.[2] ? `/sys/fs/cgroup/cpu${cpu[2]}/cpu.shares` : undefined;
    if (cpuFile) assert.equal(readFileSync(cpuFile, 'utf8').trim(), '2048', 'cpu weight 200 = 2048 shares');
    const pids = /:pids:(\S+)/.exec(cgroup)?.[1];
    if (pids) assert.equal(readFileSync(`/sys/fs/cgroup/pids${pids}/pids.max`, 'utf8').trim(), '64');
    // A fork bomb stops at the pids limit; a process past the memory limit is OOM-killed and reported.
    const pidsNow = async () => ((await d.api('GET', '/instances/ct1')).body.usage?.pids as number | undefined) ?? 0;
    const before = await pidsNow();
    const forks = await d.cli('exec', 'ct1', '--', 'sh', '-c', 'i=0; while [ $i -lt 100 ]; do sleep 2 & i=$((i+1)); done; wait');
    assert.match(forks.stderr + forks.stdout, /can't fork|Resource temporarily unavailable/);
    // The shell may give up at the failed fork while its sleeps live on: at the limit, runc's exec helper could not start.
    for (let i = 0; i < 60 && (await pidsNow()) > before; i++) await sleep(250);
    const hogArgs = ['exec', 'ct1', '--', 'sh', '-c', 'x=aaaaaaaaaaaaaaaa; while true; do x="$x$x"; done'];
    let hog = await d.cli(...hogArgs);
    // runc's own exec helper (Go) can fail to start its threads right after the fork bomb (pthread_create: EAGAIN in the
    // container's cgroup, runc exits 255): one retry; only the hog's own OOM kill (137) passes.
    if (hog.code === 255 || /pthread_create failed/.test(hog.stderr)) hog = await d.cli(...hogArgs);
    assert.equal(hog.code, 137, hog.stderr.slice(-400));
    let oom = 0;
    for (let i = 0; i < 40 && !oom; i++) {
      await sleep(250);
      oom = ((await d.api('GET', '/instances/ct1')).body.oomKills as number | undefined) ?? 0;
    }
    assert.ok(oom >= 1, 'the OOM kill is reported on the instance');
    // Root in the container cannot write outside its root filesystem.
    const w = await d.cli('exec', 'ct1', '--', 'sh', '-c', 'echo x > /proc/sys/kernel/hostname');
    assert.notEqual(w.code, 0);
  });

  test('with a container running, nobody reaches no disk, socket, log, token or database in the state dir', async () => {
    const { exposed, probed } = await exposedTo(d.stateDir, 65534, 65534);
    console.log(`# ${Object.keys(probed).length} paths probed as nobody`);
    assert.deepEqual(exposed, []);
    for (const f of ['state.db', 'admin.token', 'logs/nimbod.log']) assert.equal(probed[join(d.stateDir, f)], 'EACCES', f);
    // The container's files are there (probed), but its root's dir stops everyone but the container's own ids.
    const rootVol = await d.rootVolumeOf('ct1');
    const rootfsFile = Object.keys(probed).find((p) => p.endsWith(`/${rootVol}/rootfs/etc/nimbo/rc`));
    assert.ok(rootfsFile, 'the walk went through the container root');
    assert.equal(probed[rootfsFile], 'EACCES');
  });

  test('pause, resume, a daemon SIGKILL re-adopts it, stop and start', async () => {
    await run('pause', 'ct1', '--quiet');
    assert.equal((await runcState('ct1'))?.status, 'paused');
    await run('resume', 'ct1', '--quiet');
    assert.equal((await runcState('ct1'))?.status, 'running');
    const pid = (await runcState('ct1'))!.pid;
    await d.stop('SIGKILL');
    await sleep(500);
    assert.equal((await runcState('ct1'))?.pid, pid, 'the container kept running without the daemon');
    await d.launch();
    assert.equal((await d.cliJson<Inst>('info', 'ct1')).state, 'running');
    await run('stop', 'ct1', '--timeout', '20', '--quiet');
    assert.equal((await d.cliJson<Inst>('info', 'ct1')).state, 'stopped');
    assert.equal(await runcState('ct1'), null);
    await run('start', 'ct1', '--quiet');
    await d.waitConsole('ct1', /NIMBO-READY ct1[\s\S]*NIMBO-READY ct1/, 60_000);
  });

  test('a filesystem volume is hot-plugged into a running container, kept across restarts, and moves to another container', async () => {
    await run('storage', 'volume', 'create', 'default', 'data1', '--size', '64MiB', '--kind', 'filesystem', '--quiet');
    for (const [path, why] of [['/proc/x', /inside \/proc/], ['relative', /absolute/], ['/', /mounted at \//]] as const) {
      const r = await d.cli('storage', 'volume', 'attach', 'ct1', 'default', 'data1', '--path', path);
      assert.notEqual(r.code, 0, path);
      assert.match(r.stderr, why);
    }
    await run('storage', 'volume', 'attach', 'ct1', 'default', 'data1', '--path', '/srv/data', '--quiet');
    assert.equal((await d.cli('exec', 'ct1', '--', 'sh', '-c', 'echo kept > /srv/data/note && chown 1000:1000 /srv/data/note')).code, 0);
    // Hot-plugged like a cold mount: nosuid,nodev, seen from inside.
    const mountOpts = async () => (await d.cli('exec', 'ct1', '--', 'sh', '-c', "awk '$5 == \"/srv/data\" { print $6 }' /proc/self/mountinfo")).stdout.trim();
    assert.match(await mountOpts(), /^(?=.*(^|,)nosuid(,|$))(?=.*(^|,)nodev(,|$))/, 'a live-attached volume is nosuid,nodev');
    // On the host the files belong to the container's id range.
    const hostId = Number(readFileSync(`/proc/${(await runcState('ct1'))!.pid}/uid_map`, 'utf8').trim().split(/\s+/)[1]);
    const vol = join(d.stateDir, 'pools', 'default', 'filesystems', 'data1');
    assert.equal(statSync(join(vol, 'note')).uid, hostId + 1000);
    assert.equal(statSync(vol).uid, hostId, 'the volume root belongs to the container root');
    assert.ok(!readFileSync('/proc/mounts', 'utf8').includes('/srv/data'), 'the host has no mount of it');
    // Mounted again at every start.
    await run('stop', 'ct1', '--timeout', '20', '--quiet');
    await run('start', 'ct1', '--quiet');
    await d.waitConsole('ct1', /(NIMBO-READY ct1[\s\S]*){3}/, 60_000);
    assert.equal((await d.cli('exec', 'ct1', '--', 'cat', '/srv/data/note')).stdout, 'kept\n');
    assert.match(await mountOpts(), /^(?=.*(^|,)nosuid(,|$))(?=.*(^|,)nodev(,|$))/, 'and so is the start-time mount');
    // Mounts of the volume that processes of ct1 see (each process's mountinfo).
    const ct1Mounts = async () => (await d.cli('exec', 'ct1', '--', 'sh', '-c', 'cat /proc/[0-9]*/mountinfo 2>/dev/null | grep -c filesystems/data1')).stdout.trim();
    assert.notEqual(await ct1Mounts(), '0');
    // Detached live while a process has its working directory in it: refused, naming the process.
    const holder = d.cli('exec', 'ct1', '--', 'sh', '-c', 'cd /srv/data && echo $$ > /root/holder.pid && exec sleep 300');
    for (let i = 0; i < 100 && (await d.cli('exec', 'ct1', '--', 'test', '-s', '/root/holder.pid')).code !== 0; i++) await sleep(100);
    const refused = await d.cli('storage', 'volume', 'detach', 'ct1', 'default', 'data1');
    assert.notEqual(refused.code, 0, 'a volume a process still uses is not detached');
    assert.match(refused.stderr, /in use: pid \d+ \(sleep, host pid \d+\) has its working directory there/);
    const viaApi = await d.api('DELETE', '/instances/ct1/volumes/default/data1');
    assert.equal(viaApi.status, 409, JSON.stringify(viaApi.body));
    assert.equal((await d.cli('exec', 'ct1', '--', 'cat', '/srv/data/note')).stdout, 'kept\n', 'still attached');
    assert.equal((await d.cli('exec', 'ct1', '--', 'sh', '-c', 'kill $(cat /root/holder.pid)')).code, 0);
    await holder;
    await run('storage', 'volume', 'detach', 'ct1', 'default', 'data1', '--quiet');
    assert.notEqual((await d.cli('exec', 'ct1', '--', 'cat', '/srv/data/note')).code, 0);
    // Gone for real (not lazily): no process of the container has any mount of it.
    assert.equal(await ct1Mounts(), '0');
    // A second container gets the volume with its files moved to its own range.
    await run('launch', 'tiny', 'ct2', '--container', '--memory', '64MiB', '--no-start', '--quiet');
    await run('storage', 'volume', 'attach', 'ct2', 'default', 'data1', '--path', '/mnt/shared', '--quiet');
    await run('start', 'ct2', '--quiet');
    await d.waitConsole('ct2', /NIMBO-READY ct2/, 60_000);
    const read = await d.cli('exec', 'ct2', '--', 'sh', '-c', 'cat /mnt/shared/note; stat -c %u /mnt/shared/note');
    assert.equal(read.stdout, 'kept\n1000\n');
    // What the second container writes never shows through to the first.
    assert.equal((await d.cli('exec', 'ct2', '--', 'sh', '-c', 'echo from-ct2 > /mnt/shared/ct2-only')).code, 0);
    const fromCt1 = await d.cli('exec', 'ct1', '--', 'sh', '-c', 'ls -A /srv/data; cat /srv/data/* 2>/dev/null; true');
    assert.ok(!/from-ct2|ct2-only|kept/.test(fromCt1.stdout), fromCt1.stdout);
    assert.equal(await ct1Mounts(), '0');
    const del = await d.cli('storage', 'volume', 'delete', 'default', 'data1');
    assert.notEqual(del.code, 0, 'an attached volume is not deleted');
    await run('delete', 'ct2', '--force', '--quiet');
    await run('storage', 'volume', 'delete', 'default', 'data1', '--quiet');
  });

  test('two projects each run a container web on a network blue at once; lists stay apart and neither web reaches the other', async () => {
    const inP = (project: string, ...args: string[]) => run('--project', project, ...args);
    const projects = ['acme', 'umbrella'];
    for (const p of projects) {
      await run('project', 'create', p);
      await inP(p, 'network', 'create', 'blue', '--quiet');
      await inP(p, 'launch', 'tiny', 'web', '--container', '--network', 'blue', '--memory', '64MiB', '--ssh-key', `${key.key}.pub`, '--quiet');
    }
    const webs = await Promise.all(projects.map((p) => d.cliJson<Inst & { id: string }>('--project', p, 'info', 'web')));
    const nets = await Promise.all(projects.map((p) => d.cliJson<{ name: string; bridge: string; subnet: string; gateway: string }>('--project', p, 'network', 'info', 'blue')));
    assert.notEqual(webs[0]!.id, webs[1]!.id, 'two instances named web');
    assert.ok(webs.every((w) => w.state === 'running'), 'both run at once');
    assert.notEqual(nets[0]!.bridge, nets[1]!.bridge, 'one bridge each');
    for (const [i, p] of projects.entries()) {
      const list = await d.cliJson<(Inst & { id: string })[]>('--project', p, 'list');
      assert.deepEqual(list.map((x) => x.id), [webs[i]!.id], `${p} lists only its own web`);
      const netNames = (await d.cliJson<{ name: string }[]>('--project', p, 'network', 'list')).map((n) => n.name);
      assert.ok(netNames.includes('blue') && !netNames.includes('default'), `${p} networks: ${netNames.join(', ')}`);
    }
    assert.ok(!(await d.cliJson<Inst[]>('list')).some((x) => x.name === 'web'), 'the default project sees no web');
    assert.equal((await d.cli('info', 'web')).code, 3, 'nor can it read one');
    // Each web is up on its own network (it reaches its gateway) but not the other project's web, by ICMP or TCP.
    for (const [i, p] of projects.entries()) {
      const other = webs[1 - i]!.addresses[0]!;
      const own = await d.cli('--project', p, 'exec', 'web', '--', 'ping', '-c', '1', '-W', '3', nets[i]!.gateway);
      assert.equal(own.code, 0, `${p} web reaches its gateway: ${own.stdout}${own.stderr}`);
      const ping = await d.cli('--project', p, 'exec', 'web', '--', 'ping', '-c', '2', '-W', '2', other);
      assert.notEqual(ping.code, 0, `${p} web must not reach ${other}: ${ping.stdout}`);
      const tcp = await d.cli('--project', p, 'exec', 'web', '--', 'sh', '-c', `echo | nc -w 3 ${other} 22`);
      assert.ok(!/SSH-/.test(tcp.stdout), `${p} web must not reach SSH of ${other}: ${tcp.stdout}`);
    }
    // The webs do answer SSH (from the host, on their own bridges): what failed above is the isolation, not sshd.
    for (const w of webs) {
      const fromHost = await sshUntil(key.key, w.addresses[0]!, 30_000, 'hostname');
      assert.equal(fromHost.stdout.trim(), 'web', fromHost.stderr);
    }
    for (const p of projects) {
      await inP(p, 'delete', 'web', '--force', '--quiet');
      await inP(p, 'network', 'delete', 'blue', '--quiet');
      await run('project', 'delete', p);
    }
  });

  test('VPS actions: set-keys writes authorized_keys inside at once (never through a symlink to the host), rebuild keeps address and keys, rescue is refused', async () => {
    const info = await d.cliJson<Inst & { id: string }>('info', 'ct1');
    const key2 = await makeSshKey();
    // A symlink inside the container that names a host path: the keys land in the container's tree, never on the host.
    const lure = join(tmpdir(), `nimbo-${d.prefix}-lure`);
    try {
      assert.equal((await d.cli('exec', 'ct1', '--', 'sh', '-c', `rm -rf /root/.ssh && mkdir -p ${lure} && ln -s ${lure} /root/.ssh && echo old > /root/marker`)).code, 0);
      const set = await d.cli('set-keys', 'ct1', '--ssh-key', `${key2.key}.pub`);
      assert.equal(set.code, 0, set.stderr);
      assert.match(set.stdout, /authorized_keys in ct1 now hold 1 key/);
      assert.ok(!existsSync(lure), 'nothing was written on the host through the symlink');
      assert.equal((await d.cli('exec', 'ct1', '--', 'cat', `${lure}/authorized_keys`)).stdout.trim(), key2.pub, 'the keys are in the container, behind its own symlink');
      assert.equal((await sshUntil(key2.key, info.addresses[0]!, 30_000, 'true')).code, 0, 'the new key logs in at once');
      assert.notEqual((await ssh(key.key, info.addresses[0]!, 'true')).code, 0, 'the old key no longer does');

      // rebuild: a fresh root (the marker is gone), same id and address, the new key from the seed.
      const rb = await d.cli('rebuild', 'ct1', 'tiny', '-o', 'json');
      assert.equal(rb.code, 0, rb.stderr);
      const op = JSON.parse(rb.stdout) as { status: string; result: { applies: string; instance: Inst & { id: string } } };
      assert.equal(op.status, 'success');
      const after = await d.cliJson<Inst & { id: string }>('info', 'ct1');
      assert.deepEqual([after.id, after.addresses, after.state], [info.id, info.addresses, 'running']);
      assert.equal((await runcState('ct1'))?.status, 'running', 'the same runc container id runs the new root');
      const out = await sshUntil(key2.key, info.addresses[0]!, 60_000, 'cat /root/marker 2>/dev/null || echo fresh; hostname');
      assert.equal(out.stdout, 'fresh\nct1\n', out.stderr);
      const vols = (await d.api('GET', '/storage/pools/default/volumes')).body.volumes as { name: string }[];
      assert.equal(vols.length, 1, `only the new root is left: ${JSON.stringify(vols)}`);

      const rescue = await d.cli('rescue', 'ct1');
      assert.equal(rescue.code, 4, rescue.stderr);
      assert.match(rescue.stderr, /runs on the runc driver, whose root is a filesystem.*rescue is refused/);
      // Keys back to the first one, for the tests after this one.
      await run('set-keys', 'ct1', '--ssh-key', `${key.key}.pub`, '--quiet');
    } finally {
      rmSync(key2.dir, { recursive: true, force: true });
      rmSync(lure, { recursive: true, force: true });
    }
  });

  test('delete removes the container, its netns, veth and root', async () => {
    const info = await d.cliJson<Inst>('info', 'ct1');
    await run('delete', 'ct1', '--force', '--quiet');
    assert.equal(await runcState('ct1'), null);
    assert.ok(!readFileSync('/proc/mounts', 'utf8').includes(d.stateDir), 'no mounts left');
    assert.ok(!(await runArgv(['ip', 'netns', 'list'])).stdout.includes(`${d.prefix}-`));
    assert.equal((await ssh(key.key, info.addresses[0]!, 'true')).code === 0, false);
    assert.deepEqual((await d.api('GET', '/storage/pools/default/volumes')).body.volumes, []);
  });
});

describe('application containers from an OCI image (runc)', { skip: skip ?? (existsSync('/usr/bin/umoci') || process.env.CI === 'true' ? undefined : 'umoci is not installed') }, () => {
  let d: TestDaemon;
  let work: string;
  const run = async (...args: string[]) => {
    const r = await d.cli(...args);
    assert.equal(r.code, 0, `nimbo ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    d = await TestDaemon.start();
    work = mkdtempSync(join(tmpdir(), 'nimbo-oci-'));
    // An OCI layout with one busybox layer, made with umoci.
    const layout = join(work, 'layout');
    const bundle = join(work, 'bundle');
    const sh = (argv: string[]) => runArgv(argv, { timeoutMs: 60_000 });
    await sh(['umoci', 'init', '--layout', layout]);
    await sh(['umoci', 'new', '--image', `${layout}:app`]);
    await sh(['umoci', 'unpack', '--image', `${layout}:app`, bundle]);
    await sh(['mkdir', '-p', join(bundle, 'rootfs/bin'), join(bundle, 'rootfs/tmp'), join(bundle, 'rootfs/etc')]);
    await sh(['cp', '/bin/busybox', join(bundle, 'rootfs/bin/busybox')]);
    for (const a of ['sh', 'echo', 'env', 'sleep', 'cat', 'ip', 'pwd', 'id']) await sh(['ln', '-s', 'busybox', join(bundle, 'rootfs/bin', a)]);
    await sh(['sh', '-c', `echo 'root:x:0:0:root:/root:/bin/sh' > ${join(bundle, 'rootfs/etc/passwd')}; echo 'app:x:1000:1000::/tmp:/bin/sh' >> ${join(bundle, 'rootfs/etc/passwd')}; echo 'root:x:0:' > ${join(bundle, 'rootfs/etc/group')}`]);
    await sh(['umoci', 'repack', '--image', `${layout}:app`, bundle]);
    await sh(['umoci', 'config', '--image', `${layout}:app`, '--config.entrypoint', '/bin/sh', '--config.cmd', '-c', '--config.cmd', 'echo hello from $GREETING in $(pwd) as $(id -u); exec sleep 1000', '--config.env', 'GREETING=oci', '--config.workingdir', '/tmp', '--config.user', 'app']);
  });
  after(async () => {
    await d?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('import an OCI layout, run its entrypoint with env, workdir and user, read its logs', async () => {
    await run('image', 'import', join(work, 'layout'), '--name', 'app', '--quiet');
    const img = (await d.cliJson<{ name: string; boot: string }[]>('image', 'list')).find((i) => i.name === 'app');
    assert.equal(img?.boot, 'oci');
    const vm = await d.api('POST', '/instances', { name: 'wrong', image: 'app' });
    assert.equal(vm.status, 400, 'an OCI image is not a VM disk');
    await run('launch', 'app', 'a1', '--app', '--memory', '64MiB', '--quiet');
    let logs = '';
    for (let i = 0; i < 100 && !/hello/.test(logs); i++) {
      await sleep(100);
      logs = (await d.cli('logs', 'a1')).stdout;
    }
    assert.match(logs, /hello from oci in \/tmp as 1000/);
    const info = await d.cliJson<Inst>('info', 'a1');
    const ipOut = await d.cli('exec', 'a1', '--', 'ip', '-4', '-o', 'addr', 'show', 'eth0');
    assert.equal(ipOut.code, 0, ipOut.stderr);
    assert.ok(ipOut.stdout.includes(info.addresses[0]!), ipOut.stdout);
    // A command after -- replaces the image's cmd; --env adds to its environment.
    await run('launch', 'app', 'a2', '--app', '--env', 'GREETING=override', '--quiet', '--', '-c', 'echo second $GREETING; exec sleep 1000');
    let logs2 = '';
    for (let i = 0; i < 100 && !/second/.test(logs2); i++) {
      await sleep(100);
      logs2 = (await d.cli('logs', 'a2')).stdout;
    }
    assert.match(logs2, /second override/);
    for (const n of ['a1', 'a2']) await run('delete', n, '--force', '--quiet');
  });

  test('exit codes are kept; restart policies never and on-failure', async () => {
    await run('launch', 'app', 'once', '--app', '--quiet', '--', '-c', 'echo once; exit 5');
    await run('launch', 'app', 'flaky', '--app', '--restart', 'on-failure', '--quiet', '--', '-c', 'echo run; exit 3');
    await run('launch', 'app', 'fine', '--app', '--restart', 'on-failure', '--quiet', '--', '-c', 'echo fine; exit 0');
    const info = async (n: string) => (await d.api('GET', `/instances/${n}`)).body as { state: string; exitCode?: number };
    let flakyRuns = 0;
    for (let i = 0; i < 60 && flakyRuns < 2; i++) {
      await sleep(500);
      flakyRuns = ((await d.cli('logs', 'flaky')).stdout.match(/^run$/gm) ?? []).length;
    }
    assert.ok(flakyRuns >= 2, 'on-failure restarted the failing application');
    for (let i = 0; i < 20 && (await info('once')).state !== 'stopped'; i++) await sleep(500);
    assert.deepEqual(await info('once'), { ...(await info('once')), state: 'stopped', exitCode: 5 });
    for (let i = 0; i < 20 && (await info('fine')).state !== 'stopped'; i++) await sleep(500);
    const fine = await info('fine');
    assert.equal(fine.state, 'stopped', 'on-failure leaves a clean exit alone');
    assert.equal(fine.exitCode, 0);
    assert.equal((await info('flaky')).exitCode, 3);
    for (const n of ['once', 'flaky', 'fine']) await run('delete', n, '--force', '--quiet');
  });

  test('a broken image fails the import with a clear message and leaves nothing', async () => {
    const bad = join(work, 'bad');
    await runArgv(['cp', '-a', join(work, 'layout'), bad]);
    const blobs = join(bad, 'blobs', 'sha256');
    const big = readdirSync(blobs).map((f) => ({ f, size: statSync(join(blobs, f)).size })).sort((a, b) => b.size - a.size)[0]!;
    writeFileSync(join(blobs, big.f), 'corrupt');
    const r = await d.cli('image', 'import', bad, '--name', 'bad', '--quiet');
    assert.equal(r.code, 2); // invalid input
    assert.match(r.stderr, /corrupt|digest|size/i);
    assert.equal((await d.cliJson<{ name: string }[]>('image', 'list')).some((i) => i.name === 'bad'), false);
    assert.deepEqual(d.files('images').filter((f) => f.startsWith('bad')), []);
  });
});
