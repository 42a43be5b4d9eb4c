import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { EventBus } from './events.js';
import { silentLogger } from '../lib/log.js';
import { OperationManager } from './operations.js';
import { statePaths } from './config.js';
import type { BaseDeps } from './deps.js';
import { ImageService, type BuiltinSource } from './image-service.js';
import type { BuiltinImage } from '../images/catalog.js';
import type { BuildOptions, BuiltImage } from '../images/types.js';

/** A fake built-in image whose build is held until the test releases it (or fails it). */
function fakeBuiltins(blockers: string[] = []) {
  let builds = 0;
  let release!: (error?: Error) => void;
  const gate = () => {
    const p = new Promise<void>((ok, fail) => (release = (e) => (e ? fail(e) : ok())));
    p.catch(() => {}); // released before the build awaits it: not an unhandled rejection
    return p;
  };
  let held = gate();
  const build = async (o: BuildOptions): Promise<BuiltImage> => {
    builds++;
    o.progress?.(30, 'making the disk');
    await mkdir(o.outDir, { recursive: true });
    await writeFile(join(o.outDir, 'disk.qcow2'), 'half');
    await held;
    o.progress?.(90, 'publishing');
    return { name: 'tiny', dir: o.outDir, disk: join(o.outDir, 'disk.qcow2'), format: 'qcow2', virtualSizeBytes: 1024, boot: { kind: 'disk' }, os: 'fake' };
  };
  const tiny: BuiltinImage = { description: 'fake', build, diskBytes: 1024, needs: [], hostKernel: false };
  const source: BuiltinSource = { names: ['tiny', 'debian-12'], get: (n) => (n === 'tiny' ? tiny : undefined), blockers: async () => blockers };
  return { source, builds: () => builds, release: (e?: Error) => release(e), rearm: () => (held = gate()) };
}

async function setup(source: BuiltinSource) {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-imgsvc-'));
  const paths = statePaths(dir);
  mkdirSync(paths.images, { recursive: true });
  const store = new SqliteStore(paths.db);
  const events = new EventBus();
  const ops = new OperationManager(store, events, silentLogger());
  const d = { paths, store, events, ops, log: silentLogger() } as unknown as BaseDeps;
  const images = new ImageService(d, async () => [], source);
  return { dir, paths, store, ops, images, done: async () => { await ops.drain(); await store.close(); rmSync(dir, { recursive: true, force: true }); } };
}

test('a missing built-in image is pending for a launch; two launches and `image build` share one build', async () => {
  const f = fakeBuiltins();
  const t = await setup(f.source);
  try {
    assert.deepEqual(await t.images.forLaunch('tiny'), { virtualSizeBytes: 1024, pending: true, arch: 'x86_64' });
    const seen: string[][] = [[], []];
    const a = t.images.ensure('tiny', (p, m) => seen[0]!.push(`${p} ${m}`));
    const b = t.images.ensure('tiny', (p, m) => seen[1]!.push(`${p} ${m}`));
    while (f.builds() === 0) await new Promise((r) => setTimeout(r, 5));
    await assert.rejects(t.images.build('tiny'), { code: 'Conflict', message: 'image tiny is already being built' });
    assert.deepEqual(await t.images.forLaunch('tiny'), { virtualSizeBytes: 1024, pending: true, arch: 'x86_64' }, 'a launch meanwhile waits too');
    f.release();
    const [ia, ib] = await Promise.all([a, b]);
    assert.equal(ia.disk, join(t.paths.image('tiny'), 'disk.qcow2'));
    assert.equal(ib.disk, ia.disk);
    assert.equal(f.builds(), 1, 'one build');
    assert.equal((await t.ops.list()).filter((o) => o.kind === 'image.build').length, 1, 'one image.build operation');
    assert.equal((await t.images.get('tiny')).status, 'ready');
    // Exactly one of the launches started the build and says so; both saw its progress.
    assert.equal(seen.flat().filter((l) => /^0 build started \(operation [0-9a-f-]{36}\)$/.test(l)).length, 1, seen.flat().join('\n'));
    for (const s of seen) assert.ok(s.includes('90 publishing'), s.join('\n'));
    assert.deepEqual(await t.images.forLaunch('tiny'), { virtualSizeBytes: 1024, pending: false, arch: 'x86_64' });
    // Ready now: no further build.
    await t.images.ensure('tiny', () => {});
    assert.equal(f.builds(), 1);
  } finally {
    await t.done();
  }
});

test('a failed build fails the launches that waited, and leaves no image record or files', async () => {
  const f = fakeBuiltins();
  const t = await setup(f.source);
  try {
    const a = t.images.ensure('tiny', () => {});
    const b = t.images.ensure('tiny', () => {});
    while (f.builds() === 0) await new Promise((r) => setTimeout(r, 5));
    f.release(new Error('mke2fs: no space left on device'));
    await Promise.all([a, b].map((p) => assert.rejects(p, { message: 'building image tiny failed: mke2fs: no space left on device' })));
    await assert.rejects(t.images.get('tiny'), { code: 'NotFound' });
    assert.deepEqual(readdirSync(t.paths.images), [], 'no half image left');
    assert.equal(f.builds(), 1);
    // The next launch builds again.
    f.rearm();
    const again = t.images.ensure('tiny', () => {});
    while (f.builds() === 1) await new Promise((r) => setTimeout(r, 5));
    f.release();
    await again;
    assert.ok(existsSync(join(t.paths.image('tiny'), 'disk.qcow2')));
  } finally {
    await t.done();
  }
});

test('unknown names and unbuildable built-in images are refused before anything starts', async () => {
  const t = await setup(fakeBuiltins(['debootstrap is not installed (apt-get install debootstrap)']).source);
  try {
    await assert.rejects(t.images.forLaunch('foo'), {
      code: 'NotFound',
      message: 'image foo not found; `nimbo image list` shows the images, built-in ones are: tiny, debian-12',
    });
    await assert.rejects(t.images.forLaunch('tiny'), {
      code: 'NotFound',
      message: 'image tiny is missing and cannot be built on this host: debootstrap is not installed (apt-get install debootstrap); once fixed, `nimbo image build tiny` builds it (or launch again)',
    });
    await assert.rejects(t.images.build('tiny'), { code: 'Conflict', message: /^cannot build image tiny on this host: debootstrap is not installed/ });
    assert.deepEqual(await t.ops.list(), [], 'no operation started');
    assert.deepEqual(await t.images.list(), []);
  } finally {
    await t.done();
  }
});
