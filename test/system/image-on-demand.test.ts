import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, TestDaemon, makeSshKey, sshUntil, systemSkipReason } from './harness.js';

// Under CI=true a missing runc fails the test instead of skipping it.
const skip = systemSkipReason() ?? (existsSync('/usr/sbin/runc') || process.env.CI === 'true' ? undefined : 'runc is not installed (run scripts/setup.sh)');
const BUILTINS = 'built-in ones are: tiny, tiny-aarch64, tiny-riscv64, debian-12';

interface Op { id: string; kind: string; target: string; status: string; log: string[] }
interface Inst { name: string; type: string; state: string; image: string; addresses: string[] }

describe('built-in images on demand: a launch builds a missing tiny image once (real daemon)', { skip }, () => {
  let d: TestDaemon;
  let key: { dir: string; key: string; pub: string };
  const ops = async () => ((await d.api('GET', '/operations')).body as { operations: Op[] }).operations;
  const builds = async () => (await ops()).filter((o) => o.kind === 'image.build' && o.target === 'image/tiny');

  before(async () => {
    d = await TestDaemon.start();
    key = await makeSshKey();
  });
  after(async () => {
    if (d) {
      for (const n of ['ct1', 'ct2', 'vm1']) await d.cli('delete', n, '--force', '--quiet').catch(() => undefined);
    }
    await d?.cleanup();
    if (key) rmSync(key.dir, { recursive: true, force: true });
  });

  test('an image that is neither there nor built-in: exit 3, the hint, and nothing created', async () => {
    const r = await d.cli('launch', 'nosuchimage', 'x1');
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stderr, `nimbo: error: image nosuchimage not found; \`nimbo image list\` shows the images, ${BUILTINS}\n`);
    const api = await d.api('POST', '/instances', { name: 'x1', image: 'nosuchimage' });
    assert.equal(api.status, 404);
    assert.equal(api.body.error.code, 'NotFound');
    assert.deepEqual((await d.api('GET', '/instances')).body.instances, []);
    assert.deepEqual(await ops(), []);
  });

  test('a refused launch (bad size) starts no build', async () => {
    const r = await d.api('POST', '/instances', { name: 'x1', image: 'tiny', memory: '1MiB' });
    assert.equal(r.status, 400);
    assert.deepEqual(await ops(), [], 'no build, no create');
    assert.deepEqual((await d.api('GET', '/images')).body.images, []);
  });

  test('a build that fails fails the launch with the reason, and leaves no instance and no image', async () => {
    // The images directory becomes a plain file: the build cannot make its work dir there.
    const images = join(d.stateDir, 'images');
    rmSync(images, { recursive: true, force: true });
    writeFileSync(images, '');
    try {
      const r = await d.cli('launch', 'tiny', 'ct1', '--container', '--quiet');
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^nimbo: error: building image tiny failed: .*(ENOTDIR|EEXIST|not a directory|file already exists)/);
    } finally {
      rmSync(images, { force: true });
      mkdirSync(images, { mode: 0o755 });
    }
    assert.deepEqual((await d.api('GET', '/instances')).body.instances, []);
    assert.deepEqual((await d.api('GET', '/images')).body.images, []);
    assert.deepEqual(readdirSync(images), []);
    assert.deepEqual(readdirSync(join(d.stateDir, 'instances')).filter((n) => n === 'ct1'), []);
    assert.deepEqual((await builds()).map((o) => o.status), ['failure']);
  });

  test('three launches of the missing tiny image share one build; Ctrl-C detaches; the instances run', { timeout: 10 * 60_000 }, async () => {
    const before = (await builds()).length;
    // A CLI launch followed to the end, one that is interrupted while it waits, and one through the API.
    const ct1 = d.cli('launch', 'tiny', 'ct1', '--container', '--ssh-key', `${key.key}.pub`, '--memory', '64MiB');
    const ct2 = spawn(process.execPath, [join(ROOT, 'dist/src/cli/main.js'), 'launch', 'tiny', 'ct2', '--container', '--memory', '64MiB'], {
      env: { ...process.env, NIMBO_URL: d.url, NIMBO_TOKEN: d.token },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let ct2err = '';
    const ct2exit = new Promise<number | null>((r) => ct2.on('exit', (code) => r(code)));
    // Interrupted at its first progress line: the CLI draws it as soon as the launch is accepted, then waits for the
    // operation in long polls of up to 2 s, so the build (seconds) is still running when Ctrl-C arrives. (Waiting for
    // the build's own log lines raced: one long poll can return them together with the end of the operation.)
    ct2.stderr.on('data', (b: Buffer) => {
      const first = !/^progress \d+%$/m.test(ct2err);
      ct2err += b.toString();
      if (first && /^progress \d+%$/m.test(ct2err)) ct2.kill('SIGINT');
    });
    const vm1 = await d.api('POST', '/instances', { name: 'vm1', image: 'tiny', start: false });
    assert.equal(vm1.status, 202, JSON.stringify(vm1.body));

    assert.equal(await ct2exit, 130, ct2err);
    assert.match(ct2err, /nimbo: detached; operation [0-9a-f-]{36} continues \(see: nimbo operation wait /);
    const ct2op = /operation ([0-9a-f-]{36}) continues/.exec(ct2err)![1]!;

    const r1 = await ct1;
    assert.equal(r1.code, 0, r1.stderr);
    assert.match(r1.stdout, /^Launched ct1 \(running, /m);
    // The build's progress is shown in the launch's own progress display.
    assert.match(r1.stderr, /^image tiny: /m, r1.stderr);
    const pcts = [...r1.stderr.matchAll(/^progress (\d+)%$/gm)].map((m) => Number(m[1]));
    assert.deepEqual(pcts, [...pcts].sort((a, b) => a - b), 'progress only goes up');
    assert.equal(pcts.at(-1), 100);

    const w2 = await d.cli('operation', 'wait', ct2op, '--quiet');
    assert.equal(w2.code, 0, w2.stderr);
    const w3 = await d.api('GET', `/operations/${(vm1.body as { operation: Op }).operation.id}/wait?timeout=300`);
    assert.equal(w3.body.status, 'success', JSON.stringify(w3.body.error));

    const all = await builds();
    const b = all.slice(0, all.length - before); // newest first: the ones this test made
    assert.deepEqual(b.map((o) => o.status), ['success'], 'exactly one new image.build operation, and it succeeded');
    const img = (await d.api('GET', '/images/tiny')).body as { status: string; source: string };
    assert.equal(img.status, 'ready');
    assert.equal(img.source, 'builtin:tiny');

    const list = (await d.api('GET', '/instances')).body.instances as Inst[];
    assert.deepEqual(list.map((i) => `${i.name}:${i.type}:${i.state}:${i.image}`).sort(), ['ct1:container:running:tiny', 'ct2:container:running:tiny', 'vm1:vm:stopped:tiny']);
    const ct1info = list.find((i) => i.name === 'ct1')!;
    await d.waitConsole('ct1', /NIMBO-READY ct1/, 60_000);
    const out = await sshUntil(key.key, ct1info.addresses[0]!, 30_000, 'hostname');
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stdout.trim(), 'ct1');

    // Ready now: another launch builds nothing.
    const again = await d.cli('launch', 'tiny', 'ct3', '--container', '--no-start', '--quiet');
    assert.equal(again.code, 0, again.stderr);
    assert.equal((await builds()).length - before, 1);
    assert.equal((await d.cli('delete', 'ct3', '--quiet')).code, 0);
  });
});
