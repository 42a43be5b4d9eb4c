import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NimboError } from '../lib/errors.js';
import { SharedBuilds, cannotBuild, type BuildHandle, imageNotFound, nextStep } from './image-on-demand.js';

const BUILTINS = ['tiny', 'debian-12'];

test('nextStep: a missing built-in image is built, a ready one used, a running build waited for', () => {
  assert.equal(nextStep('tiny', undefined, false, BUILTINS), 'build');
  assert.equal(nextStep('debian-12', 'error', false, BUILTINS), 'build', 'a failed build is tried again');
  assert.equal(nextStep('tiny', 'ready', false, BUILTINS), 'use');
  assert.equal(nextStep('tiny', 'building', true, BUILTINS), 'wait');
  assert.equal(nextStep('tiny', undefined, true, BUILTINS), 'wait', 'a build registered before its record is written');
  assert.equal(nextStep('myimg', 'building', true, BUILTINS), 'wait', 'an import that runs is waited for too');
  assert.equal(nextStep('myimg', 'ready', false, BUILTINS), 'use');
});

test('nextStep: an unknown image is NotFound with the hint and the built-in names', () => {
  assert.throws(() => nextStep('foo', undefined, false, BUILTINS), (e: unknown) => {
    assert.ok(e instanceof NimboError);
    assert.equal(e.code, 'NotFound');
    assert.equal(e.message, 'image foo not found; `nimbo image list` shows the images, built-in ones are: tiny, debian-12');
    return true;
  });
  assert.throws(() => nextStep('foo', 'error', false, BUILTINS), { code: 'Conflict', message: 'image foo is not ready (error)' });
});

test('the messages name what is missing and the command that builds the image', () => {
  assert.deepEqual(imageNotFound('x', ['tiny']).code, 'NotFound');
  const e = cannotBuild('debian-12', ['debootstrap is not installed (apt-get install debootstrap)']);
  assert.equal(e.code, 'NotFound');
  assert.equal(e.message, 'image debian-12 is missing and cannot be built on this host: debootstrap is not installed (apt-get install debootstrap); once fixed, `nimbo image build debian-12` builds it (or launch again)');
});

/** A fake builder: counts its runs, reports progress and ends when the test says so. */
function fakeBuilder(builds: SharedBuilds) {
  let runs = 0;
  let handle: BuildHandle | undefined;
  return {
    start(name: string) {
      handle = builds.begin(name);
      runs++;
      handle.progress(10, 'step one'); // before any launch follows: nobody sees it
    },
    progress: (p: number, m: string) => handle!.progress(p, m),
    finish: (error?: Error) => handle!.end(error),
    runs: () => runs,
  };
}

/** What a launch does with SharedBuilds: build when none runs (a Conflict means another began), then follow. */
async function launch(builds: SharedBuilds, b: ReturnType<typeof fakeBuilder>, name: string, seen: string[]): Promise<void> {
  if (!builds.has(name)) {
    try {
      b.start(name);
    } catch (e) {
      if (!(e instanceof NimboError && e.code === 'Conflict')) throw e;
    }
  }
  assert.equal(await builds.follow(name, (p, m) => seen.push(`${p} ${m}`)), true);
}

test('SharedBuilds: concurrent launches share one build and all see its progress', async () => {
  const builds = new SharedBuilds();
  const b = fakeBuilder(builds);
  const seen: string[][] = [[], [], []];
  const launches = seen.map((s) => launch(builds, b, 'tiny', s));
  assert.equal(b.runs(), 1, 'one build for three launches');
  assert.throws(() => builds.begin('tiny'), { code: 'Conflict', message: 'image tiny is already being built' });
  await new Promise((r) => setImmediate(r)); // the launches follow the build now
  b.progress(50, 'half');
  b.finish();
  await Promise.all(launches);
  for (const s of seen) assert.deepEqual(s, ['50 half']);
  assert.equal(builds.has('tiny'), false);
  assert.equal(await builds.follow('tiny', () => {}), false, 'nothing to follow once it ended');
  // The next build of the same name may start again.
  b.start('tiny');
  assert.equal(b.runs(), 2);
  b.finish();
});

test('SharedBuilds: a failed build fails every launch that followed it, with the image named', async () => {
  const builds = new SharedBuilds();
  const b = fakeBuilder(builds);
  const launches = [launch(builds, b, 'tiny', []), launch(builds, b, 'tiny', [])];
  b.finish(new NimboError('HostCommandFailed', 'mke2fs failed (exit 1): no space'));
  for (const l of launches) await assert.rejects(l, { code: 'HostCommandFailed', message: 'building image tiny failed: mke2fs failed (exit 1): no space' });
  assert.equal(b.runs(), 1);
  assert.equal(builds.has('tiny'), false, 'a failed build leaves no entry behind');
});

test('SharedBuilds: a cancelled follower stops waiting, the build goes on for the others', async () => {
  const builds = new SharedBuilds();
  const b = fakeBuilder(builds);
  b.start('debian-12');
  const ctrl = new AbortController();
  const cancelled = builds.follow('debian-12', () => {}, ctrl.signal);
  const other = builds.follow('debian-12', () => {});
  ctrl.abort();
  await assert.rejects(cancelled, { code: 'Cancelled' });
  assert.equal(builds.has('debian-12'), true);
  b.finish();
  assert.equal(await other, true);
  // end() twice is harmless, and a build that never started (ended without error) lets followers look again.
  const h = builds.begin('x');
  const f = builds.follow('x', () => {});
  h.end();
  h.end(new Error('late'));
  assert.equal(await f, true);
});
