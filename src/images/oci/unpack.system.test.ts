// System test: build a real OCI image from a busybox root with umoci, then unpack it as a
// layout dir, a layout tar and a docker-archive (made by skopeo), with and without a uid
// shift; check whiteouts, path confinement, digest checks and cleanup. Needs root, umoci,
// skopeo, tar, chroot and /bin/busybox (busybox-static). Everything lives in one temp dir.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chown, copyFile, cp, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { RealExec } from '../../host/exec.js';
import { detectOciSource, unpackOciImage, type OciUnpacked } from './unpack.js';
import { readUserDb, resolveProcess, type OciImageConfig } from './config.js';
import { indexTar } from './tar.js';
import { makeTar } from './fixtures.js';

const NEEDED = ['/usr/bin/umoci', '/usr/bin/skopeo', '/bin/busybox', '/usr/sbin/chroot', '/usr/bin/tar'];
const missing = NEEDED.filter((p) => !existsSync(p));
const skip = process.getuid?.() !== 0 ? 'needs root' : missing.length ? `missing ${missing.join(', ')}` : false;

const exec = new RealExec();
const pickCfg = (c: OciImageConfig) => ({
  entrypoint: c.entrypoint, cmd: c.cmd, env: c.env, workingDir: c.workingDir, user: c.user,
  exposedPorts: c.exposedPorts, stopSignal: c.stopSignal, labels: c.labels, architecture: c.architecture, os: c.os,
});
const EXPECTED = {
  entrypoint: ['/bin/busybox'], cmd: ['echo', 'hello from oci'], env: ['PATH=/bin', 'GREETING=hi'], workingDir: '/home/app', user: 'app:staff',
  exposedPorts: ['8080/tcp'], stopSignal: 'SIGINT', labels: { 'org.example.k': 'v' }, architecture: 'amd64', os: 'linux',
};

async function timed<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const r = await fn();
  console.log(`${what}: ${Math.round(performance.now() - t0)} ms`);
  return r;
}

test('OCI image: build with umoci, unpack dir / tar / docker-archive, uid shift, corruption, confinement', { skip, timeout: 300_000 }, async () => {
  const d = await mkdtemp(join(tmpdir(), 'nimbo-ocisys-'));
  const run = (argv: string[]) => exec.run(argv, { cwd: d, timeoutMs: 120_000 });
  try {
    // --- build the image: layer 1 = busybox root, layer 2 deletes /etc/motd (a whiteout) ---
    await run(['umoci', 'init', '--layout', 'L']);
    await run(['umoci', 'new', '--image', 'L:t']);
    await run(['umoci', 'unpack', '--image', 'L:t', 'B']);
    const r = join(d, 'B', 'rootfs');
    for (const p of ['bin', 'etc', 'home/app', 'tmp']) await mkdir(join(r, p), { recursive: true });
    await copyFile('/bin/busybox', join(r, 'bin', 'busybox'));
    await symlink('busybox', join(r, 'bin', 'sh'));
    await writeFile(join(r, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n');
    await writeFile(join(r, 'etc', 'group'), 'root:x:0:\nstaff:x:50:app\napp:x:1000:\n');
    await writeFile(join(r, 'etc', 'motd'), 'bye\n');
    await chown(join(r, 'home', 'app'), 1000, 1000);
    await run(['umoci', 'repack', '--refresh-bundle', '--image', 'L:t', 'B']);
    await rm(join(r, 'etc', 'motd'));
    await run(['umoci', 'repack', '--image', 'L:t', 'B']);
    await run(['umoci', 'config', '--image', 'L:t', '--config.entrypoint', '/bin/busybox', '--config.cmd', 'echo', '--config.cmd', 'hello from oci',
      '--config.env', 'PATH=/bin', '--config.env', 'GREETING=hi', '--config.workingdir', '/home/app', '--config.user', 'app:staff',
      '--config.exposedports', '8080/tcp', '--config.stopsignal', 'SIGINT', '--config.label', 'org.example.k=v']);
    await run(['umoci', 'gc', '--layout', 'L']);
    await run(['skopeo', '--insecure-policy', 'copy', '-q', 'oci:L:t', 'docker-archive:D.tar:t']);
    // The same image with docker schema 2 manifest and layer types, inside an OCI layout.
    await run(['skopeo', '--insecure-policy', 'copy', '-q', '--format', 'v2s2', 'oci:L:t', 'oci:V:t']);

    // A second tag with a hostile extra layer: paths that try to leave the rootfs.
    await run(['umoci', 'tag', '--image', 'L:t', 'evil']);
    const esc = `escape-${process.pid}`;
    await writeFile(join(d, 'evil.tar'), makeTar([
      { name: `../../../../../../tmp/${esc}-1`, data: 'x' },
      { name: `/tmp/${esc}-2`, data: 'x' },
      { name: 'lnk', type: 'symlink', linkname: '/tmp' },
      { name: `lnk/${esc}-3`, data: 'x' },
      { name: 'up', type: 'symlink', linkname: '../../../../../../tmp' },
      { name: `up/${esc}-4`, data: 'x' },
    ]));
    await run(['umoci', 'raw', 'add-layer', '--image', 'L:evil', 'evil.tar']);
    await run(['tar', '-C', 'L', '-cf', 'L.tar', '.']);

    // --- detection ---
    assert.deepEqual(await detectOciSource(join(d, 'L')), { kind: 'oci-dir', path: join(d, 'L'), tags: ['t', 'evil'] });
    assert.equal((await detectOciSource(join(d, 'L.tar')))?.kind, 'oci-tar');
    assert.deepEqual(await detectOciSource(join(d, 'D.tar')), { kind: 'docker-archive', path: join(d, 'D.tar'), tags: ['docker.io/library/t:latest'], ref: 'docker.io/library/t:latest' });
    await assert.rejects(unpackOciImage(exec, join(d, 'L'), join(d, 'none')), { code: 'InvalidArgument', message: /several images; choose one with a tag: t, evil/ });
    assert.equal(existsSync(join(d, 'none')), false);

    // --- the three forms ---
    const shift = { hostId: 100000, size: 65536 };
    const dir = await timed('unpack oci-dir (uid shift)', () => unpackOciImage(exec, join(d, 'L'), join(d, 'out-dir'), { tag: 't', uidShift: shift }));
    const tarred = await timed('unpack oci-tar', () => unpackOciImage(exec, join(d, 'L.tar'), join(d, 'out-tar'), { tag: 't' }));
    const docker = await timed('unpack docker-archive', () => unpackOciImage(exec, join(d, 'D.tar'), join(d, 'out-docker')));
    const v2s2 = await timed('unpack oci-dir with a docker v2s2 manifest', () => unpackOciImage(exec, join(d, 'V'), join(d, 'out-v2s2')));
    for (const [name, u] of [['dir', dir], ['tar', tarred], ['docker', docker], ['v2s2', v2s2]] as [string, OciUnpacked][]) {
      assert.deepEqual(pickCfg(u), EXPECTED, name);
      assert.equal(u.layerCount, 2, name);
      assert.ok((await stat(join(u.rootfs, 'bin', 'busybox'))).isFile(), `${name}: busybox`);
      assert.equal(existsSync(join(u.rootfs, 'etc', 'motd')), false, `${name}: whiteout applied`);
      assert.deepEqual(await readdir(join(u.rootfs, '..')), ['rootfs'], `${name}: no work dir left`);
    }
    assert.equal(dir.ref, 't');
    assert.equal(docker.ref, 'docker.io/library/t:latest');
    assert.equal(tarred.configDigest, dir.configDigest);

    // Ownership: shifted by the range, unshifted without it.
    const own = async (p: string) => { const s = await stat(p); return [s.uid, s.gid]; };
    assert.deepEqual(await own(join(dir.rootfs, 'bin', 'busybox')), [100000, 100000]);
    assert.deepEqual(await own(join(dir.rootfs, 'home', 'app')), [101000, 101000]);
    assert.deepEqual(await own(dir.rootfs), [100000, 100000]);
    const destSt = await stat(join(d, 'out-dir'));
    assert.deepEqual([destSt.mode & 0o777, destSt.uid, destSt.gid], [0o710, 0, 100000], 'created destDir: traversable by the mapped root only');
    assert.equal((await stat(join(d, 'out-tar'))).mode & 0o777, 0o700);
    assert.deepEqual(await own(join(tarred.rootfs, 'home', 'app')), [1000, 1000]);

    // The resolved process runs (chroot, host root: enough to prove the rootfs and args work).
    const db = await readUserDb(tarred.rootfs);
    const proc = resolveProcess(tarred, {}, db.passwd, db.group);
    assert.deepEqual([proc.args, proc.uid, proc.gid, proc.cwd], [['/bin/busybox', 'echo', 'hello from oci'], 1000, 50, '/home/app']);
    assert.deepEqual(proc.env, ['PATH=/bin', 'GREETING=hi', 'HOME=/home/app']);
    const out = await exec.run(['chroot', '--userspec', `${proc.uid}:${proc.gid}`, tarred.rootfs, ...proc.args]);
    assert.equal(out.stdout.trim(), 'hello from oci');

    // --- the hostile layer stays inside the rootfs ---
    const evil = await unpackOciImage(exec, join(d, 'L'), join(d, 'out-evil'), { tag: 'evil' });
    for (const n of [1, 2, 3, 4]) assert.equal(existsSync(`/tmp/${esc}-${n}`), false, `escape ${n} stayed inside`);
    assert.ok(existsSync(join(evil.rootfs, 'tmp', `${esc}-1`)) && existsSync(join(evil.rootfs, 'tmp', `${esc}-2`)));

    // --- uid outside the shift range ---
    await assert.rejects(unpackOciImage(exec, join(d, 'L'), join(d, 'out-small'), { tag: 't', uidShift: { hostId: 200000, size: 500 } }),
      { code: 'InvalidArgument', message: /files owned by id 1000, outside the 500 ids/ });
    assert.equal(existsSync(join(d, 'out-small')), false);

    // --- corrupt layer blob: layout dir and layout tar ---
    await cp(join(d, 'L'), join(d, 'C'), { recursive: true });
    const blobs = join(d, 'C', 'blobs', 'sha256');
    let biggest = '';
    let size = 0;
    for (const f of await readdir(blobs)) {
      const s = (await stat(join(blobs, f))).size;
      if (s > size) [biggest, size] = [f, s];
    }
    const data = await readFile(join(blobs, biggest));
    data[Math.floor(size / 2)] ^= 0x01;
    await writeFile(join(blobs, biggest), data);
    await assert.rejects(unpackOciImage(exec, join(d, 'C'), join(d, 'out-corrupt'), { tag: 't' }),
      { code: 'InvalidArgument', message: new RegExp(`layer blob sha256:${biggest} is corrupt \\(digest mismatch`) });
    assert.equal(existsSync(join(d, 'out-corrupt')), false, 'no destDir left');
    const tarData = await readFile(join(d, 'L.tar'));
    const member = (await indexTar(join(d, 'L.tar')))!.get(`blobs/sha256/${biggest}`)!;
    tarData[member.offset + Math.floor(member.size / 2)] ^= 0x01;
    await writeFile(join(d, 'C.tar'), tarData);
    await assert.rejects(unpackOciImage(exec, join(d, 'C.tar'), join(d, 'out-corrupt'), { tag: 't' }), /is corrupt \(digest mismatch/);
    assert.equal(existsSync(join(d, 'out-corrupt')), false);
  } finally {
    await rm(d, { recursive: true, force: true });
    for (let n = 1; n <= 4; n++) await rm(`/tmp/escape-${process.pid}-${n}`, { force: true });
  }
});
