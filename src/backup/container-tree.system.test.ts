// Container tree backups with real runc: a running busybox container's root read through
// openFsBackup as a tar stream, extracted into another id range (the same tree), a stopped one's
// root mounted only for the backup, and restoreFsRoot bringing the tree back in place and as a new
// container, both of which start and show what was written before the backup.
// Needs root, runc, /bin/busybox (busybox-static), python3.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomInt, randomUUID } from 'node:crypto';
import { chmodSync, createReadStream, createWriteStream, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { RealExec } from '../host/exec.js';
import { silentLogger } from '../lib/log.js';
import { extractTar } from './tar-extract.js';
import { tarTree } from './tar-writer.js';
import type { InstanceSpec } from '../drivers/compute/instance-driver.js';
import { ID_SIZE } from '../drivers/compute/runc/container-info.js';
import { RuncInstanceDriver } from '../drivers/compute/runc/instance-driver.js';
import { RuncDriver } from '../drivers/compute/runc/runc-driver.js';
import { isContainerRootMounted, unmountContainerRoot } from '../drivers/compute/runc/rootfs/container-root.js';
import { buildImageTree } from '../drivers/compute/runc/test-image-tree.js';

const RUNC = ['/usr/sbin/runc', '/usr/bin/runc'].find((p) => existsSync(p));
const ci = process.env.CI === 'true';
const skip = ci ? false : process.getuid?.() !== 0 ? 'needs root' : !RUNC ? 'needs runc' : !existsSync('/bin/busybox') ? 'needs /bin/busybox (busybox-static)' : false;

/** path -> type, mode, container-relative owners, content hash or link text (sockets and the seed mount point left out). */
function treeOf(root: string, base: number): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    const p = rel ? join(root, rel) : root;
    const st = lstatSync(p);
    const type = st.isFile() ? 'f' : st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : st.isFIFO() ? 'p' : st.isSocket() ? 's' : 'c';
    if (type === 's') return;
    const what = type === 'f' ? createHash('sha256').update(readFileSync(p)).digest('hex').slice(0, 16) : type === 'l' ? readlinkSync(p) : '';
    out.set(rel || '.', `${type} ${(st.mode & 0o7777).toString(8)} ${st.uid - base}:${st.gid - base} ${Math.floor(st.mtimeMs / 1000)} ${what}`);
    if (type === 'd') for (const n of readdirSync(p).sort()) walk(rel ? `${rel}/${n}` : n);
  };
  walk('');
  return out;
}

test('container tree backup: live tar of a running container, same tree in another range; stopped root mounted only for the backup; restore in place and as a new container', { skip, timeout: 240_000 }, async (t) => {
  const exec = new RealExec();
  const prefix = `rcb${randomBytes(3).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-ctbak-'));
  chmodSync(dir, 0o755);
  const runc = new RuncDriver({ exec, runtime: RUNC!, root: join(dir, 'runc') });
  const network = { deleteTap: async () => undefined, plugNetns: async () => undefined, applyLimits: async () => undefined };
  const driver = new RuncInstanceDriver({ exec, log: silentLogger(), runtime: runc, network, prefix, exitsDir: join(dir, 'exits') });
  const slot0 = 3000 + randomInt(0, 1000);
  const made: InstanceSpec[] = [];
  const mkSpec = async (n: number): Promise<InstanceSpec> => {
    const uuid = randomUUID();
    const ct = await driver.plan({ uuid, name: `bk${n}`, image: 'tiny', allocateId: async () => slot0 + n, releaseId: async () => undefined });
    const rootPath = join(dir, `vol${n}`);
    mkdirSync(rootPath);
    const spec: InstanceSpec = {
      uuid, name: `bk${n}`, driverConfig: ct, cpus: 1, memoryBytes: 64 * 1024 ** 2, nics: [], volumes: [], networks: new Map(),
      hostIds: { runDir: join(dir, 'run', uuid), instanceDir: join(dir, 'instances', uuid), runtimeId: `${prefix}-${uuid}`, cgroup: `/nimbo-${prefix}/${uuid}` },
      root: { pool: 'default', volume: `root-${uuid}`, path: rootPath },
    };
    made.push(spec);
    return spec;
  };
  const sh = async (spec: InstanceSpec, script: string) => {
    const r = await runc.exec(spec.hostIds.runtimeId!, ['sh', '-c', script]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };
  const hostIdOf = (spec: InstanceSpec) => (spec.driverConfig as { hostId: number }).hostId;
  try {
    const tree = join(dir, 'image');
    await buildImageTree(exec, tree);
    const a = await mkSpec(0);
    await driver.prepare(a, { seed: { 'meta-data': `instance-id: ${a.uuid}\n` }, lowerDir: tree, root: 'new' });
    await driver.start(a);
    await sh(a, 'echo marker-before-backup > /root/marker && mkdir -m 2750 /srv && echo x > /srv/owned && chown -R 1000:1001 /srv && ln -s /root/marker /srv/ln && chmod 4755 /bin/busybox');

    // Running: read live.
    const s1 = await driver.openFsBackup(a, () => undefined);
    assert.deepEqual([s1.consistency, s1.idBase, s1.idCount], ['crash-consistent', hostIdOf(a), ID_SIZE]);
    const tarFile = join(dir, 'a.tar');
    const { stream, done } = tarTree(s1.root, { idBase: s1.idBase, idCount: s1.idCount, exec, catalog: createWriteStream(join(dir, 'a.catalog')) });
    await pipeline(stream, createWriteStream(tarFile));
    const stats = await done;
    const live = treeOf(s1.root, s1.idBase);
    await s1.finish();
    t.diagnostic(JSON.stringify(stats));
    assert.equal(stats.unmappedIds, 0);
    assert.equal(live.get('srv/owned')!.split(' ').slice(0, 3).join(' '), 'f 644 1000:1001');
    assert.equal(live.get('srv')!.split(' ').slice(0, 3).join(' '), 'd 2750 1000:1001');
    assert.ok(await isContainerRootMounted(a.root.path), 'finish leaves a running container\'s root mounted');

    // Extracted into another container's range: the same tree.
    const B = hostIdOf(a) + 10 * ID_SIZE;
    const out = join(dir, 'out');
    mkdirSync(out);
    await extractTar(createReadStream(tarFile), out, { idBase: B, idCount: ID_SIZE, exec });
    assert.deepEqual(treeOf(out, B), live);
    assert.equal(lstatSync(join(out, 'srv/owned')).uid, B + 1000);

    // Stopped and unmounted: mounted for the backup, unmounted by finish.
    await driver.stop(a, { timeoutMs: 10_000, force: false });
    await unmountContainerRoot(exec, a.root.path);
    const s2 = await driver.openFsBackup(a, () => undefined);
    assert.equal(s2.consistency, 'stopped');
    assert.ok(await isContainerRootMounted(a.root.path));
    assert.equal(readFileSync(join(s2.root, 'root/marker'), 'utf8'), 'marker-before-backup\n');
    await s2.finish();
    assert.equal(await isContainerRootMounted(a.root.path), false, 'finish unmounts what open mounted');

    // Restore in place (after a change), refused while running; a failed fill leaves the root.
    await driver.start(a);
    await sh(a, 'rm /root/marker && echo after > /root/later');
    const fill = (dest: string, ids: { idBase: number; idCount: number }) => extractTar(createReadStream(tarFile), dest, { ...ids, exec });
    await assert.rejects(driver.restoreFsRoot(a, fill, () => undefined), /is running: stop it/);
    await driver.stop(a, { timeoutMs: 10_000, force: false });
    await assert.rejects(driver.restoreFsRoot(a, async (dest) => {
      writeFileSync(join(dest, 'half'), '');
      throw new Error('datastore went away');
    }, () => undefined), /datastore went away/);
    assert.deepEqual(readdirSync(a.root.path).filter((n) => n.startsWith('rootfs.')), [], 'no staging left');
    await driver.restoreFsRoot(a, fill, () => undefined);
    await driver.start(a);
    assert.equal(await sh(a, 'cat /root/marker; ls /root; stat -c "%u:%g %a" /srv/owned /srv /bin/busybox'),
      'marker-before-backup\nmarker\n1000:1001 644\n1000:1001 2750\n0:0 4755\n');

    // Restore as a new container (another id range): the seed only, then the tree.
    const c = await mkSpec(1);
    await driver.prepare(c, { seed: { 'meta-data': `instance-id: ${c.uuid}\n` }, root: 'keep' });
    await driver.restoreFsRoot(c, fill, () => undefined);
    await driver.start(c);
    assert.equal(await sh(c, 'cat /root/marker; stat -c %u:%g /srv/owned'), 'marker-before-backup\n1000:1001\n');
    assert.equal(lstatSync(join(c.root.path, 'rootfs/srv/owned')).uid, hostIdOf(c) + 1000);
  } finally {
    driver.close();
    for (const s of made) {
      await exec.run([RUNC!, '--root', join(dir, 'runc'), 'delete', '--force', s.hostIds.runtimeId!], { allowFailure: true });
      await driver.destroy(s, [], { path: s.root.path }).catch(() => undefined);
      for (const mp of [join(s.root.path, 'rootfs'), join(s.root.path, 'lower')]) await exec.run(['umount', mp], { allowFailure: true });
    }
    rmSync(dir, { recursive: true, force: true });
    const roots = existsSync('/sys/fs/cgroup/cgroup.controllers') ? ['/sys/fs/cgroup'] : readdirSync('/sys/fs/cgroup').map((d) => join('/sys/fs/cgroup', d));
    for (const r of roots) {
      for (const p of [...made.map((s) => join(r, `nimbo-${prefix}`, s.uuid)), join(r, `nimbo-${prefix}`)]) {
        try {
          rmdirSync(p);
        } catch {
          /* absent */
        }
      }
    }
  }
});
