import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestDaemon, makeSshKey, processAlive, sleep, ssh, sshUntil, systemSkipReason } from './harness.js';
import { RealExec, runArgv } from '../../src/host/exec.js';
import { wholeDiskOf } from '../../src/drivers/compute/runc/runc-support.js';
import { makeCloudInitImage, runCloudInitUserData } from './cloud-init-image.js';

const skip = systemSkipReason();
const GiB = 1024 * 1024 * 1024;
const MIN = 60_000;

interface Img {
  name: string;
  source: string;
  format: string;
  boot: string;
  os: string;
  size: number;
  status: string;
}

interface Inst {
  id: string;
  name: string;
  state: string;
  image: string;
  addresses: string[];
  memory: number;
  disk: number;
}

describe('images on a real daemon: debian-12 build, imports, refusals, delete (TCG)', { skip }, () => {
  let d: TestDaemon;
  let key: { dir: string; key: string; pub: string };
  let tmp: string;
  /** The cloud-init image (deb-ci), derived and imported while vm1 boots; its error, if any, is the cloud-init test's. */
  let ciImage: Promise<Error | undefined> = Promise.resolve(new Error('not started: the vm1 test did not run'));

  const imageList = () => d.cliJson<Img[]>('image', 'list');
  const summary = (l: Img[]) => l.map((i) => `${i.name}:${i.status}:${i.boot}`).sort();
  const imageDir = (name: string) => join(d.stateDir, 'images', name);

  /**
   * Wait for `NIMBO-READY name` on the console (a Debian boot takes ~35 s under TCG here, more
   * on a loaded host). On a timeout, say whether QEMU is alive and busy and whether the guest
   * answers SSH, so a hung guest can be told from lost console output.
   */
  const waitReady = async (name: string, timeoutMs = 180_000): Promise<string> => {
    try {
      return await d.waitConsole(name, new RegExp(`NIMBO-READY ${name}`), timeoutMs);
    } catch (e) {
      const info = await d.cliJson<Inst & { pid: number | null }>('info', name).catch(() => undefined);
      const pid = info?.pid ?? 0;
      const cpu = () => {
        try {
          const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
          return (Number(f[11]) + Number(f[12])) / 100;
        } catch {
          return NaN;
        }
      };
      const c0 = cpu();
      const probe = info?.addresses[0] ? await ssh(key.key, info.addresses[0], '-o', 'ConnectTimeout=5', 'uptime; systemctl list-jobs --no-pager | head -n 20') : undefined;
      const c1 = cpu();
      throw new Error(`${(e as Error).message}\n--- state ${info?.state}, QEMU pid ${pid} alive=${pid > 0 && processAlive(pid)}, ` +
        `QEMU CPU ${c0}s -> ${c1}s during the SSH probe, host load ${loadavg().map((l) => l.toFixed(1)).join(' ')}\n` +
        `--- ssh: ${probe ? `code ${probe.code}\n${probe.stdout}${probe.stderr}` : 'no address'}`);
    }
  };

  before(async () => {
    d = await TestDaemon.start();
    key = await makeSshKey();
    tmp = mkdtempSync(join(tmpdir(), 'nimbo-imgtest-'));
  });
  after(async () => {
    await d?.cleanup();
    if (key) rmSync(key.dir, { recursive: true, force: true });
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('nimbo image build debian-12 runs as an operation with progress and gives a ready disk-boot image', { timeout: 15 * MIN }, async () => {
    const build = d.cli('image', 'build', 'debian-12');
    // While it runs, the image is listed as building.
    let sawBuilding = false;
    let settled = false;
    void build.finally(() => (settled = true));
    while (!settled && !sawBuilding) {
      const r = await d.api('GET', '/images/debian-12');
      if (r.status === 200 && r.body.status === 'building') sawBuilding = true;
      else await sleep(250);
    }
    const r = await build;
    assert.equal(r.code, 0, r.stderr);
    assert.ok(sawBuilding, 'the image is listed as building while the operation runs');
    assert.match(r.stdout, /^Built image debian-12$/m);
    const pcts = [...r.stderr.matchAll(/^progress (\d+)%$/gm)].map((m) => Number(m[1]));
    assert.ok(pcts.length >= 3, `several progress lines: ${r.stderr}`);
    assert.equal(pcts.at(-1), 100);
    assert.deepEqual(pcts, [...pcts].sort((a, b) => a - b), 'progress only goes up');

    const ops = await d.api('GET', '/operations');
    const op = (ops.body.operations as { kind: string; target: string; status: string; progress: number }[])
      .find((o) => o.kind === 'image.build' && o.target === 'image/debian-12');
    assert.ok(op, 'an image.build operation is recorded');
    assert.equal(op.status, 'success');
    assert.equal(op.progress, 100);

    const images = await imageList();
    assert.deepEqual(summary(images), ['debian-12:ready:disk']);
    const img = images[0]!;
    assert.equal(img.source, 'builtin:debian-12');
    assert.equal(img.format, 'qcow2');
    assert.equal(img.size, 2 * GiB);
    assert.match(img.os, /Debian GNU\/Linux 12/);
    assert.ok(existsSync(join(imageDir('debian-12'), 'disk.qcow2')));
  });

  test('debian-12 as a system container: systemd boots to running, seed applied, SSH on its address, clean poweroff on stop', { timeout: 4 * MIN }, async () => {
    const t0 = Date.now();
    const r = await d.cli('launch', 'debian-12', 'ct1', '--container', '--ssh-key', `${key.key}.pub`, '--memory', '512MiB', '--pids', '512',
      '--disk-write-bps', '20MiB', '--disk-read-iops', '1000', '--quiet');
    assert.equal(r.code, 0, r.stderr);
    const info = await d.cliJson<Inst & { type: string }>('info', 'ct1');
    assert.equal(info.type, 'container');
    assert.equal(info.state, 'running');
    const addr = info.addresses[0]!;
    // nimbo-ready.service appends the marker to init's stdout (the console log) once sshd and the network are up.
    await waitReady('ct1', 120_000);
    const boot = Date.now() - t0;

    const sr = await d.cli('exec', 'ct1', '--', 'systemctl', 'is-system-running', '--wait');
    if (sr.stdout.trim() !== 'running') {
      const failed = await d.cli('exec', 'ct1', '--', 'systemctl', '--failed', '--no-legend', '--no-pager');
      assert.fail(`systemd is ${sr.stdout.trim()} ${sr.stderr}; failed units:\n${failed.stdout}`);
    }
    const out = await sshUntil(key.key, addr, 30_000,
      'hostname; cat /proc/1/comm; stat -fc %T /sys/fs/cgroup; grep ^0:: /proc/self/cgroup; ip -4 -o addr show scope global; systemd-detect-virt --container');
    assert.equal(out.code, 0, out.stderr);
    const [hostname, init, cgfs, cgroup, ...rest] = out.stdout.trim().split('\n');
    assert.equal(hostname, 'ct1');
    assert.equal(init, 'systemd');
    // Its own cgroup2 tree, in which systemd runs the SSH session below a slice of its own.
    assert.equal(cgfs, 'cgroup2fs');
    assert.match(cgroup!, /^0::\/(system|user)\.slice\//);
    assert.equal(rest.at(-1), 'container-other', 'systemd-detect-virt: a container (container=nimbo)');
    const ips = rest.slice(0, -1);
    assert.equal(ips.length, 1, ips.join('\n'));
    assert.ok(ips[0]!.includes(` ${addr}/24 `), `the container has the reserved address ${addr}: ${ips[0]}`);

    // The limits are on the container's own (v1 or v2) cgroup, outside the tree systemd manages.
    const ctId = info.id; // its cgroup is named by its UUID
    const cg = existsSync('/sys/fs/cgroup/cgroup.controllers')
      ? readFileSync(join('/sys/fs/cgroup', `nimbo-${d.prefix}`, ctId, 'memory.max'), 'utf8')
      : readFileSync(join('/sys/fs/cgroup/memory', `nimbo-${d.prefix}`, ctId, 'memory.limit_in_bytes'), 'utf8');
    assert.equal(Number(cg.trim()), 512 * 1024 * 1024);
    // Block I/O throttles on the whole disk under the pool (this state dir's filesystem).
    const dev = await wholeDiskOf(new RealExec(), d.stateDir);
    assert.ok(dev, 'the state dir is on a block device');
    const mm = `${dev.major}:${dev.minor}`;
    if (existsSync('/sys/fs/cgroup/cgroup.controllers')) {
      const io = readFileSync(join('/sys/fs/cgroup', `nimbo-${d.prefix}`, ctId, 'io.max'), 'utf8');
      assert.match(io, new RegExp(`^${mm} rbps=max wbps=20971520 riops=1000 wiops=max$`, 'm'));
    } else {
      const blk = (f: string) => readFileSync(join('/sys/fs/cgroup/blkio', `nimbo-${d.prefix}`, ctId, `blkio.throttle.${f}_device`), 'utf8').trim();
      assert.equal(blk('write_bps'), `${mm} 20971520`);
      assert.equal(blk('read_iops'), `${mm} 1000`);
      assert.equal(blk('read_bps'), '');
    }

    // systemd powers off on SIGRTMIN+4: init exits long before the 30 s stop timeout would SIGKILL it.
    const s0 = Date.now();
    const stop = await d.cli('stop', 'ct1', '--quiet');
    assert.equal(stop.code, 0, stop.stderr);
    const stopMs = Date.now() - s0;
    assert.ok(stopMs < 20_000, `stop took ${stopMs} ms`);
    assert.equal((await d.cliJson<Inst>('info', 'ct1')).state, 'stopped');

    const del = await d.cli('delete', 'ct1', '--quiet');
    assert.equal(del.code, 0, del.stderr);
    const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').filter((l) => l.includes(d.stateDir));
    assert.deepEqual(mounts, [], 'no mounts left');
    const ns = (await runArgv(['ip', 'netns', 'list'])).stdout;
    assert.ok(!ns.includes(d.prefix), ns);
    for (const h of readdirSync('/sys/fs/cgroup')) {
      assert.ok(!existsSync(join('/sys/fs/cgroup', h, `nimbo-${d.prefix}`, ctId)), `cgroup ${h}/nimbo-${d.prefix}/${ctId} is gone`);
    }
    process.stderr.write(`# debian-12 container: ready in ${boot} ms, stopped in ${stopMs} ms\n`);
  });

  test('a debian-12 VM boots, answers SSH on its reserved address, and grows its root fs to --disk', { timeout: 6 * MIN }, async () => {
    ciImage = makeCloudInitImage(d, join(imageDir('debian-12'), 'disk.qcow2'), tmp).then(() => undefined, (e: Error) => e);
    const r = await d.cli('launch', 'debian-12', 'vm1', '--ssh-key', `${key.key}.pub`, '--memory', '1GiB', '--disk', '3GiB', '--quiet');
    assert.equal(r.code, 0, r.stderr);
    const info = await d.cliJson<Inst>('info', 'vm1');
    assert.equal(info.state, 'running');
    assert.equal(info.image, 'debian-12');
    assert.equal(info.memory, GiB);
    assert.equal(info.disk, 3 * GiB);
    assert.equal(info.addresses.length, 1);
    const addr = info.addresses[0]!;
    assert.ok(addr.startsWith(d.subnet.split('.').slice(0, 3).join('.') + '.'), `${addr} in ${d.subnet}`);

    await waitReady('vm1');
    const out = await sshUntil(key.key, addr, 60_000, 'hostname; grep MemTotal /proc/meminfo; lsblk -bndo SIZE /dev/vda; ip -4 -o addr show scope global');
    assert.equal(out.code, 0, out.stderr);
    const [hostname, mem, vda, ...ips] = out.stdout.trim().split('\n');
    assert.equal(hostname, 'vm1');
    // One global IPv4 address, the one nimbo reserved (the NIC is named by systemd, e.g. ens3).
    assert.equal(ips.length, 1, ips.join('\n'));
    assert.ok(ips[0]!.includes(` ${addr}/24 `), `the guest has the reserved address ${addr}: ${ips[0]}`);
    assert.ok(Number(/(\d+) kB/.exec(mem!)![1]) * 1024 > 0.8 * GiB, mem);
    assert.equal(Number(vda), 3 * GiB, 'the guest sees a 3 GiB disk');

    // nimbo-growfs grows partition and ext4 at boot; give it a moment if it is still running.
    let size = 0;
    const end = Date.now() + 60_000;
    while (Date.now() < end) {
      const df = await ssh(key.key, addr, 'df -B1 --output=size / | tail -n 1');
      size = Number(df.stdout.trim());
      if (size > 2.5 * GiB) break;
      await sleep(2000);
    }
    assert.ok(size > 2.7 * GiB && size <= 3 * GiB, `root fs is ${size} bytes; expected about 3 GiB (the image is 2 GiB)`);

    // Stopped from here on (CPU for the next VM); it still uses debian-12.
    const stop = await d.cli('stop', 'vm1', '--force', '--quiet');
    assert.equal(stop.code, 0, stop.stderr);
  });

  test('the real cloud-init runs --user-data it read from the metadata service (NoCloud-net) in a debian-12 VM', { timeout: 12 * MIN }, async () => {
    // debian-12 plus Debian's cloud-init package, its cloud.cfg.d pointing at http://169.254.169.254/nocloud/.
    const err = await ciImage;
    assert.ifError(err);
    const run = await runCloudInitUserData(d, tmp);
    assert.equal(run.guestInstanceId, run.id, 'cloud-init\'s instance id is the instance\'s own');
    assert.match(run.datasource, /^DataSourceNoCloudNet \[seed=.*http:\/\/169\.254\.169\.254\/nocloud\/\]$/, 'seeded over HTTP from the metadata service');
    process.stderr.write(`# cloud-init user-data ran ${run.seconds.toFixed(0)} s after launch (${run.datasource})\n`);
  });

  // A VM booting an imported raw disk is the cloud-init test's (deb-ci); these imports are byte-compared instead.
  test('nimbo image import takes a raw and a qcow2 file, each byte-identical to debian-12; an instance made from one uses it', { timeout: 8 * MIN }, async () => {
    const src = join(imageDir('debian-12'), 'disk.qcow2');
    const raw = join(tmp, 'debian.raw');
    await runArgv(['qemu-img', 'convert', '-f', 'qcow2', '-O', 'raw', src, raw], { timeoutMs: 5 * MIN });
    const qcow = join(tmp, 'debian.qcow2');
    copyFileSync(src, qcow);

    const r1 = await d.cli('image', 'import', raw, '--name', 'deb-raw');
    assert.equal(r1.code, 0, r1.stderr);
    assert.match(r1.stdout, new RegExp(`^Imported image deb-raw from ${raw}$`, 'm'));
    assert.match(r1.stderr, /^progress 100%$/m);
    const r2 = await d.cli('image', 'import', qcow, '--name', 'deb-qcow', '--quiet');
    assert.equal(r2.code, 0, r2.stderr);

    const images = await imageList();
    assert.deepEqual(summary(images), ['deb-qcow:ready:disk', 'deb-raw:ready:disk', 'debian-12:ready:disk']);
    const byName = new Map(images.map((i) => [i.name, i]));
    assert.equal(byName.get('deb-raw')!.source, `import:${raw}`);
    assert.equal(byName.get('deb-raw')!.os, 'imported from debian.raw (raw)');
    assert.equal(byName.get('deb-qcow')!.os, 'imported from debian.qcow2 (qcow2)');
    for (const n of ['deb-raw', 'deb-qcow']) {
      assert.equal(byName.get(n)!.format, 'qcow2', 'imports are stored as nimbo-owned qcow2');
      assert.equal(byName.get(n)!.size, 2 * GiB);
    }
    // Both imports hold exactly the debian-12 disk's contents.
    for (const n of ['deb-raw', 'deb-qcow']) {
      const cmp = await runArgv(['qemu-img', 'compare', '-q', src, join(imageDir(n), 'disk.qcow2')], { allowFailure: true, timeoutMs: 2 * MIN });
      assert.equal(cmp.code, 0, `${n} differs from debian-12: ${cmp.stdout}${cmp.stderr}`);
    }
    // The daemon copied the files: the sources are not needed any more.
    rmSync(raw);
    rmSync(qcow);

    const l = await d.cli('launch', 'deb-raw', 'vm2', '--ssh-key', `${key.key}.pub`, '--memory', '1GiB', '--no-start', '--quiet');
    assert.equal(l.code, 0, l.stderr);
    const info = await d.cliJson<Inst>('info', 'vm2');
    assert.equal(info.image, 'deb-raw');
    assert.equal(info.state, 'stopped');
  });

  test('bad imports are refused cleanly and leave no image behind', { timeout: 3 * MIN }, async () => {
    const before = summary(await imageList());
    const dirsBefore = d.files('images').sort();
    const unchanged = async (name: string) => {
      assert.deepEqual(summary(await imageList()), before, `image list unchanged after ${name}`);
      assert.deepEqual(d.files('images').sort(), dirsBefore, `no images/${name}* left behind`);
      assert.equal((await d.api('GET', `/images/${name}`)).status, 404);
    };

    // Random bytes, sized like a disk (whole sectors, 3 MiB): qemu-img calls it raw, nimbo must not.
    const garbage = join(tmp, 'garbage.img');
    const bytes = randomBytes(3 * 1024 * 1024);
    bytes[511] = 0; // never a boot signature by chance
    writeFileSync(garbage, bytes);
    const g = await d.cli('image', 'import', garbage, '--name', 'garbage');
    assert.notEqual(g.code, 0, 'a garbage file is not imported');
    assert.match(g.stderr, /^nimbo: error: .*does not look like a bootable disk image/m);
    await unchanged('garbage');

    // Too small / not whole sectors.
    const tiny = join(tmp, 'tiny.img');
    writeFileSync(tiny, 'not a disk at all\n');
    const t = await d.cli('image', 'import', tiny, '--name', 'tiny-garbage', '--quiet');
    assert.notEqual(t.code, 0);
    assert.match(t.stderr, /does not look like a disk image/);
    await unchanged('tiny-garbage');

    // A missing path: one clear line from the CLI; the API says 400 too.
    const missing = join(tmp, 'no-such-file.qcow2');
    const m = await d.cli('image', 'import', missing, '--name', 'missing');
    assert.equal(m.code, 1);
    assert.equal(m.stderr, `nimbo: error: ${missing}: no such file\n`);
    const ma = await d.api('POST', '/images/import', { name: 'missing', path: missing });
    assert.equal(ma.status, 400);
    assert.match(JSON.stringify(ma.body), /does not exist/);
    await unchanged('missing');

    // A directory instead of a file.
    const dir = await d.api('POST', '/images/import', { name: 'adir', path: tmp });
    const dirOp = dir.status === 202 ? await d.api('GET', `/operations/${dir.body.operation.id}/wait?timeout=30`) : dir;
    assert.match(JSON.stringify(dirOp.body), /not a regular file/);
    await unchanged('adir');

    // Bad names: refused by the CLI before any request, and by the API.
    for (const bad of ['Bad_Name', '../escape', '-x']) {
      const b = await d.cli('image', 'import', garbage, `--name=${bad}`);
      assert.notEqual(b.code, 0, `name ${bad} refused`);
      assert.equal(b.stderr.trim().split('\n').length, 1, b.stderr);
      assert.match(b.stderr, /^nimbo: error: .*invalid image name/);
      const ba = await d.api('POST', '/images/import', { name: bad, path: garbage });
      assert.equal(ba.status, 400, `API refuses name ${bad}`);
    }
    // A name that is taken.
    const dup = await d.cli('image', 'import', garbage, '--name', 'deb-raw');
    assert.notEqual(dup.code, 0);
    assert.match(dup.stderr, /already exists/);

    assert.deepEqual(summary(await imageList()), before);
    assert.deepEqual(d.files('images').sort(), dirsBefore);
    rmSync(garbage);
    rmSync(tiny);
  });

  test('image delete is refused (409) while an instance uses the image, and works after', { timeout: 3 * MIN }, async () => {
    for (const [image, user] of [['deb-raw', 'vm2'], ['debian-12', 'vm1']] as const) {
      const r = await d.cli('image', 'delete', image);
      assert.notEqual(r.code, 0);
      assert.equal(r.stderr, `nimbo: error: image ${image} is used by ${user}\n`);
      const a = await d.api('DELETE', `/images/${image}`);
      assert.equal(a.status, 409);
      assert.match(JSON.stringify(a.body), new RegExp(`image ${image} is used by ${user}`));
      assert.ok(existsSync(join(imageDir(image), 'disk.qcow2')), `${image} is kept`);
    }
    // The unused import goes at once.
    assert.equal((await d.cli('image', 'delete', 'deb-qcow', '--quiet')).code, 0);
    assert.ok(!existsSync(imageDir('deb-qcow')));

    for (const vm of ['vm1', 'vm2']) {
      const r = await d.cli('delete', vm, '--force', '--quiet');
      assert.equal(r.code, 0, r.stderr);
    }
    assert.deepEqual(d.files('instances'), []);
    for (const image of ['deb-raw', 'debian-12']) {
      const r = await d.cli('image', 'delete', image);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^Deleted image ${image}$`, 'm'));
      assert.ok(!existsSync(imageDir(image)), `images/${image} is gone`);
      assert.equal((await d.api('GET', `/images/${image}`)).status, 404);
    }
    assert.deepEqual(await imageList(), []);
    assert.deepEqual(d.files('images'), []);
    const again = await d.cli('image', 'delete', 'deb-raw');
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /not found/i);
  });
});
