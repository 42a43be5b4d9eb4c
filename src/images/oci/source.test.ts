import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import type { ExecOptions, ExecResult, HostExec } from '../../host/exec.js';
import { HostCommandError } from '../../lib/errors.js';
import { detectOciSource, unpackOciImage } from './unpack.js';
import { DirStore, normalizeImageRef, selectOciImage, tagMatches } from './layout.js';
import { makeDockerArchive, makeLayout, makeTar, putBlob, putImage, writeIndex, sha256 } from './fixtures.js';
import { MT } from './media.js';

async function withDir(fn: (d: string) => Promise<void>) {
  const d = await mkdtemp(join(tmpdir(), 'nimbo-ocisrc-'));
  try {
    await fn(d);
  } finally {
    await rm(d, { recursive: true, force: true });
  }
}

const layer1 = makeTar([{ name: 'bin/', type: 'dir' }, { name: 'bin/hello', data: '#!/bin/sh\necho hi\n', mode: 0o755 }]);
const layer2 = makeTar([{ name: 'etc/passwd', data: 'root:x:0:0::/root:/bin/sh\n' }]);
const appCfg = { Entrypoint: ['/bin/hello'], Cmd: ['a'], Env: ['X=1'], WorkingDir: '/w', User: '0:0' };

/** Plays `umoci raw unpack`: checks the private layout it is given and makes a rootfs. */
class FakeUmoci implements HostExec {
  calls: { argv: string[]; cwd?: string; index?: unknown; manifest?: Record<string, unknown> }[] = [];
  fail?: string;
  async run(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const cwd = opts.cwd!;
    const index = JSON.parse(await readFile(join(cwd, 'layout', 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    const manifest = JSON.parse(await readFile(join(cwd, 'layout', 'blobs', 'sha256', index.manifests[0]!.digest.slice(7)), 'utf8')) as Record<string, unknown>;
    this.calls.push({ argv, cwd, index, manifest });
    if (this.fail) throw new HostCommandError(argv, 1, this.fail);
    await mkdir(join(cwd, 'rootfs', 'bin'), { recursive: true });
    return { stdout: '', stderr: '', code: 0 };
  }
}

test('detectOciSource: layout dir, layout tar, docker archive (plain and gzip), and null for the rest', async () => {
  await withDir(async (d) => {
    const L = join(d, 'layout');
    await makeLayout(L, [{ tag: 'v1', layers: [layer1], config: appCfg }]);
    assert.deepEqual(await detectOciSource(L), { kind: 'oci-dir', path: L, tags: ['v1'], ref: 'v1' });

    // A tar of the layout (as `tar -C L -cf x.tar .` makes it: ./ names).
    const entries = [{ name: './oci-layout', data: await readFile(join(L, 'oci-layout')) }, { name: './index.json', data: await readFile(join(L, 'index.json')) }];
    for (const f of await readdir(join(L, 'blobs', 'sha256'))) entries.push({ name: `./blobs/sha256/${f}`, data: await readFile(join(L, 'blobs', 'sha256', f)) });
    const ot = join(d, 'oci.tar');
    await writeFile(ot, makeTar(entries));
    assert.deepEqual(await detectOciSource(ot), { kind: 'oci-tar', path: ot, tags: ['v1'], ref: 'v1' });

    const da = join(d, 'docker.tar');
    await writeFile(da, makeDockerArchive([{ repoTags: ['app:1', 'app:latest'], layers: [layer1] }]));
    assert.deepEqual(await detectOciSource(da), { kind: 'docker-archive', path: da, tags: ['app:1', 'app:latest'] });
    const dz = join(d, 'docker.tar.gz');
    await writeFile(dz, gzipSync(await readFile(da)));
    assert.deepEqual(await detectOciSource(dz), { kind: 'docker-archive', path: dz, tags: ['app:1', 'app:latest'], gzip: true });

    // Not image sources.
    const other = join(d, 'other');
    await mkdir(other);
    assert.equal(await detectOciSource(other), null, 'empty dir');
    await writeFile(join(other, 'oci-layout'), '{}');
    assert.equal(await detectOciSource(other), null, 'no index.json');
    assert.equal(await detectOciSource(join(d, 'missing')), null);
    const disk = join(d, 'disk.qcow2');
    await writeFile(disk, Buffer.concat([Buffer.from('QFI\xfb'), Buffer.alloc(1 << 16)]));
    assert.equal(await detectOciSource(disk), null);
    await writeFile(disk, gzipSync(Buffer.alloc(1 << 16, 3)));
    assert.equal(await detectOciSource(disk), null, 'gzip of something else');
    const plain = join(d, 'plain.tar');
    await writeFile(plain, makeTar([{ name: 'manifest.json', data: '{"not":"docker"}' }, { name: 'x', data: 'y' }]));
    assert.equal(await detectOciSource(plain), null, 'a tar that is neither');
    const broken = makeTar([{ name: 'manifest.json', data: '[]' }, { name: 'x', data: 'y' }]);
    broken[1024 + 5] ^= 0xff;
    await writeFile(plain, broken);
    await assert.rejects(detectOciSource(plain), { code: 'InvalidArgument', message: /broken tar archive/ });
  });
});

test('tag matching is docker-normalized', () => {
  assert.equal(normalizeImageRef('busybox'), 'docker.io/library/busybox:latest');
  assert.equal(normalizeImageRef('me/app:1'), 'docker.io/me/app:1');
  assert.equal(normalizeImageRef('localhost:5000/app'), 'localhost:5000/app:latest');
  assert.equal(normalizeImageRef('index.docker.io/library/x:2'), 'docker.io/library/x:2');
  assert.ok(tagMatches(['docker.io/library/t:latest'], 't'));
  assert.ok(tagMatches(['latest'], 'latest'));
  assert.ok(!tagMatches(['app:1'], 'app'));
});

test('selectOciImage: tags, platforms, media types, corrupt blobs', async () => {
  await withDir(async (d) => {
    const sel = (dir: string, tag?: string) => selectOciImage(new DirStore(dir), dir, tag, 'amd64');
    const A = join(d, 'a');
    await makeLayout(A, [{ tag: 'one', layers: [layer1], config: appCfg }, { tag: 'two', layers: [layer1, layer2], gzip: true }]);
    await assert.rejects(sel(A), { code: 'InvalidArgument', message: /holds several images; choose one with a tag: one, two/ });
    await assert.rejects(sel(A, 'three'), /no image tagged "three"; tags: one, two/);
    const two = await sel(A, 'two');
    assert.equal(two.layers.length, 2);
    assert.equal(two.ref, 'two');
    assert.deepEqual((await sel(A, 'one')).config.entrypoint, ['/bin/hello']);

    // Multi-platform index: picks linux/amd64; errors list the platforms.
    const M = join(d, 'multi');
    const arm = await putImage(M, { layers: [layer2], architecture: 'arm64' });
    const amd = await putImage(M, { layers: [layer1], architecture: 'amd64', config: { Cmd: ['amd'] } });
    const idx = await putBlob(M, JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: [
      { ...arm, platform: { os: 'linux', architecture: 'arm64' } },
      { ...amd, platform: { os: 'linux', architecture: 'amd64' } },
      { ...amd, digest: sha256('attestation'), mediaType: 'application/vnd.in-toto+json', platform: { os: 'unknown', architecture: 'unknown' } },
    ] }), MT.ociIndex, { annotations: { 'org.opencontainers.image.ref.name': 'multi' } });
    await writeIndex(M, [idx]);
    assert.deepEqual((await sel(M)).config.cmd, ['amd']);
    await assert.rejects(selectOciImage(new DirStore(M), M, undefined, 's390x'), /no linux\/s390x image for multi; platforms: linux\/arm64, linux\/amd64/);

    // A single image of another architecture.
    const R = join(d, 'arm');
    await makeLayout(R, [{ layers: [layer1], architecture: 'arm64' }]);
    await assert.rejects(sel(R), /the image is for linux\/arm64; this host runs linux\/amd64/);

    // Empty index, unsupported types.
    const E = join(d, 'empty');
    await writeIndex(E, []);
    await assert.rejects(sel(E), /holds no manifest/);
    const Z = join(d, 'zstd');
    await makeLayout(Z, [{ layers: [layer1], layerMediaType: MT.ociLayerZstd }]);
    await assert.rejects(sel(Z), /zstd-compressed/);
    const S1 = join(d, 's1');
    await writeIndex(S1, [{ mediaType: MT.dockerSchema1Signed, digest: sha256('x'), size: 1 }]);
    await assert.rejects(sel(S1), /schema 1 manifests are not supported/);
    const H = join(d, 'helm');
    const cfg = await putBlob(H, '{}', 'application/vnd.cncf.helm.config.v1+json');
    await writeIndex(H, [await putBlob(H, JSON.stringify({ schemaVersion: 2, config: cfg, layers: [] }), MT.ociManifest)]);
    await assert.rejects(sel(H), /is not a container image \(config media type application\/vnd.cncf.helm.config.v1\+json\)/);

    // Corrupt config blob; missing manifest blob.
    const C = join(d, 'corrupt');
    const [desc] = await makeLayout(C, [{ layers: [layer1] }]);
    const manifest = JSON.parse(await readFile(join(C, 'blobs', 'sha256', desc!.digest.slice(7)), 'utf8')) as { config: { digest: string } };
    await writeFile(join(C, 'blobs', 'sha256', manifest.config.digest.slice(7)), '{"tampered":1}');
    await assert.rejects(sel(C), { code: 'InvalidArgument', message: /config blob sha256:[0-9a-f]{64} is corrupt \(digest mismatch/ });
    await rm(join(C, 'blobs', 'sha256', desc!.digest.slice(7)));
    await assert.rejects(sel(C), /manifest blob sha256:[0-9a-f]{64} is missing/);
    await writeIndex(C, [{ digest: 'md5:abc', size: 1 }]);
    await assert.rejects(sel(C), /malformed digest/);
  });
});

test('unpackOciImage (umoci faked): private layout, docker archive checks, cleanup on failure', async () => {
  await withDir(async (d) => {
    const L = join(d, 'layout');
    await makeLayout(L, [{ tag: 'v1', layers: [layer1, layer2], gzip: true, config: appCfg }]);
    const exec = new FakeUmoci();
    const dest = join(d, 'vol', 'img');
    await mkdir(dest, { recursive: true }); // an existing destDir: no chown (unit tests need not run as root)
    const res = await unpackOciImage(exec, L, dest, { uidShift: { hostId: 100000, size: 65536 } });
    assert.equal(res.rootfs, join(dest, 'rootfs'));
    assert.deepEqual([res.entrypoint, res.cmd, res.env, res.workingDir, res.user, res.ref, res.layerCount], [['/bin/hello'], ['a'], ['X=1'], '/w', '0:0', 'v1', 2]);
    assert.deepEqual(exec.calls[0]!.argv, ['umoci', 'raw', 'unpack', '--uid-map', '0:100000:65536', '--gid-map', '0:100000:65536', '--image', 'layout:nimbo', 'rootfs']);
    assert.deepEqual((exec.calls[0]!.manifest!.layers as { mediaType: string }[]).map((l) => l.mediaType), [MT.ociLayerGzip, MT.ociLayerGzip]);
    assert.deepEqual(await readdir(dest), ['rootfs'], 'work dir removed');
    await assert.rejects(unpackOciImage(exec, L, dest), { code: 'Conflict', message: /rootfs already exists/ });

    // Docker archive: uncompressed layers, declared as such for umoci; mislabeled docker types are sniffed.
    const da = join(d, 'd.tar');
    await writeFile(da, makeDockerArchive([{ repoTags: ['a:1'], layers: [layer1] }, { repoTags: ['b:1'], layers: [layer2, layer1] }]));
    await assert.rejects(unpackOciImage(exec, da, join(d, 'x')), /holds several images; choose one with a tag: a:1, b:1 \(or @0..@1\)/);
    assert.equal((await readdir(d)).includes('x'), false, 'destDir not left behind');
    const b = await unpackOciImage(exec, da, join(d, 'b'), { tag: '@1' });
    assert.equal(b.ref, 'b:1');
    assert.deepEqual((exec.calls.at(-1)!.manifest!.layers as { mediaType: string; digest: string }[]).map((l) => [l.mediaType, l.digest]),
      [[MT.ociLayer, sha256(layer2)], [MT.ociLayer, sha256(layer1)]]);

    // gzip-compressed docker archive (docker save | gzip): decompressed into the work dir, then removed.
    const dz = join(d, 'd.tar.gz');
    await writeFile(dz, gzipSync(makeDockerArchive([{ repoTags: ['z:1'], layers: [layer2], config: { Cmd: ['z'] } }])));
    const z = await unpackOciImage(exec, dz, join(d, 'z'));
    assert.deepEqual([z.ref, z.cmd, z.layerBytes], ['z:1', ['z'], layer2.length]);
    assert.deepEqual(await readdir(join(d, 'z')), ['rootfs']);

    // A docker archive whose layer does not match the config's diff id.
    const bad = makeDockerArchive([{ repoTags: ['a:1'], layers: [layer1] }]);
    const at = bad.indexOf(Buffer.from('echo hi'));
    bad[at] = 'E'.charCodeAt(0);
    await writeFile(da, bad);
    await assert.rejects(unpackOciImage(exec, da, join(d, 'c')), { code: 'InvalidArgument', message: /layer [0-9a-f]{64}\/layer.tar is corrupt \(digest mismatch/ });
    assert.equal((await readdir(d)).includes('c'), false);

    // Corrupt layer blob in a layout dir; an existing destDir is left as it was.
    const [desc] = await makeLayout(join(d, 'L2'), [{ layers: [layer1] }]);
    const m = JSON.parse(await readFile(join(d, 'L2', 'blobs', 'sha256', desc!.digest.slice(7)), 'utf8')) as { layers: { digest: string }[] };
    await writeFile(join(d, 'L2', 'blobs', 'sha256', m.layers[0]!.digest.slice(7)), Buffer.from(layer1).fill(1, 600, 601));
    const keep = join(d, 'keep');
    await mkdir(keep);
    await writeFile(join(keep, 'other'), 'x');
    await assert.rejects(unpackOciImage(exec, join(d, 'L2'), keep), { code: 'InvalidArgument', message: /layer blob sha256:[0-9a-f]{64} is corrupt \(digest mismatch/ });
    assert.deepEqual(await readdir(keep), ['other']);

    // umoci failing on an id outside the shift range becomes a clear InvalidArgument.
    exec.fail = '   • unpacking rootfs ...\n   ⨯ create runtime bundle: unpack rootfs: unpack layer: unpack entry: big: apply hdr metadata: unmap header: map uid to host: container id 70000 cannot be mapped to a host id\n';
    await assert.rejects(unpackOciImage(exec, L, keep, { uidShift: { hostId: 100000, size: 65536 } }),
      { code: 'InvalidArgument', message: /files owned by id 70000, outside the 65536 ids/ });
    assert.deepEqual(await readdir(keep), ['other']);
    await assert.rejects(unpackOciImage(exec, L, keep, { uidShift: { hostId: -1, size: 5 } }), /uidShift must be/);
    await assert.rejects(unpackOciImage(exec, join(d, 'nothing'), keep), /is not an OCI image layout/);
  });
});
