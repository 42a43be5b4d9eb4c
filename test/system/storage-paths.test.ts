import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { TestDaemon, systemSkipReason } from './harness.js';

// Pool paths are checked as paths on the real daemon: resolved through symlinks, never on a pseudo-filesystem,
// never overlapping another pool or the state dir. Every refusal is a 4xx before anything is made.

describe('storage pool paths are checked as paths', { skip: systemSkipReason() }, () => {
  let d: TestDaemon;
  let scratch = '';
  const outside: string[] = [];

  before(async () => {
    d = await TestDaemon.start();
    scratch = realpathSync(mkdtempSync(join(tmpdir(), `nimbo-${d.prefix}-paths-`)));
    chmodSync(scratch, 0o755);
  });
  after(async () => {
    await d?.cleanup();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    for (const p of outside) rmSync(p, { recursive: true, force: true }); // only if a refusal failed
  });

  const create = (name: string, path: string) => d.api('POST', '/storage/pools', { name, driver: 'dir', path });
  const poolNames = async () => ((await d.api('GET', '/storage/pools')).body.pools as { name: string }[]).map((p) => p.name).sort();

  test('each bad path gets a 4xx with one sentence, and no directory or record is left', async () => {
    const good = join(scratch, 'good');
    const made = await d.cli('storage', 'pool', 'create', 'good', '--driver', 'dir', '--path', good, '--quiet');
    assert.equal(made.code, 0, made.stderr);
    const links = join(scratch, 'links');
    mkdirSync(links);
    symlinkSync(good, join(links, 'to-good'));
    symlinkSync('/sys', join(links, 'sys'));
    symlinkSync(join(scratch, 'gone'), join(links, 'dangling'));
    const def = join(d.stateDir, 'pools', 'default');
    const tag = `nimbo-${d.prefix}`;
    outside.push(`/proc/${tag}`, `/dev/shm/${tag}`, `/run/${tag}`);
    const cases: [string, number, RegExp][] = [
      [`/proc/${tag}/pool`, 400, /under \/proc/], // before: Node's recursive mkdir spun here forever
      [`/sys/${tag}`, 400, /under \/sys/],
      [`/dev/shm/${tag}`, 400, /under \/dev/],
      [`/run/${tag}/pool`, 400, /under \/run/],
      [join(links, 'sys', tag), 400, /under \/sys/],
      [join(links, 'dangling', 'pool'), 400, /symbolic link to nothing/],
      [good, 409, /already used by pool good/],
      [join(links, 'to-good'), 409, /already used by pool good/],
      [join(good, 'inner', 'pool'), 409, /inside pool good/],
      [scratch, 409, /contains pool good/],
      [def, 409, /already used by pool default/],
      [join(def, 'volumes', 'pool'), 409, /inside pool default/],
      [join(d.stateDir, 'images', 'pool'), 409, /inside the daemon's state directory/],
      [join(d.stateDir, 'pools', 'other'), 409, /inside the daemon's state directory/],
      [dirname(d.stateDir), 409, /contains/],
    ];
    for (const [path, status, re] of cases) {
      const existed = existsSync(path);
      const r = await create('bad', path);
      assert.equal(r.status, status, `${path}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.error.message, re, path);
      assert.doesNotMatch(r.body.error.message, /\n/);
      if (!existed) assert.equal(existsSync(path), false, `${path} was left behind`);
    }
    for (const p of [join(good, 'inner'), join(d.stateDir, 'images', 'pool'), join(d.stateDir, 'pools', 'other'), ...outside]) {
      assert.equal(existsSync(p), false, `${p} was left behind`);
    }
    assert.deepEqual(await poolNames(), ['default', 'good'], 'no record');
  });

  test('a pool given through a symlink records the resolved path; refused parents are not left behind', async () => {
    mkdirSync(join(scratch, 'real'));
    symlinkSync(join(scratch, 'real'), join(scratch, 'via'));
    const r = await d.cli('storage', 'pool', 'create', 'linked', '--driver', 'dir', '--path', join(scratch, 'via', 'p'), '--quiet');
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await d.api('GET', '/storage/pools/linked')).body.path, join(scratch, 'real', 'p'));
    // btrfs refuses ext4/xfs after the checks: the parents it made for the pool go away with it.
    const bad = await d.cli('storage', 'pool', 'create', 'nob', '--driver', 'btrfs', '--path', join(scratch, 'n1', 'n2', 'pool'));
    assert.notEqual(bad.code, 0);
    assert.equal(existsSync(join(scratch, 'n1')), false, 'no directory left');
    assert.deepEqual(await poolNames(), ['default', 'good', 'linked']);
  });

  test('two concurrent creates cannot nest their pools: one is accepted, the other refused', async () => {
    const outer = join(scratch, 'race');
    const [a, b] = await Promise.all([create('race-a', outer), create('race-b', join(outer, 'inner'))]);
    assert.deepEqual([a.status, b.status].sort(), [202, 409], `${JSON.stringify(a.body)} ${JSON.stringify(b.body)}`);
    const won = a.status === 202 ? a : b;
    const done = await d.api('GET', `/operations/${won.body.operation.id}/wait?timeout=30`);
    assert.equal(done.body.status, 'success', JSON.stringify(done.body));
    const names = await poolNames();
    assert.equal(names.includes('race-a'), a.status === 202);
    assert.equal(names.includes('race-b'), b.status === 202);
  });
});
