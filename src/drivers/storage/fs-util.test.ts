import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_DIR_DEPTH, makeDirs, makeDirsSync, removeMadeDirs } from './fs-util.js';

const invalid = (re: RegExp) => (e: unknown) => (e as { code?: string }).code === 'InvalidArgument' && re.test((e as Error).message);

test('makeDirs creates the missing part once and says where it began; removeMadeDirs undoes exactly that', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-md-'));
  try {
    const leaf = join(dir, 'a/b/c');
    assert.equal(await makeDirs(leaf, 0o711), join(dir, 'a'));
    assert.equal(statSync(leaf).mode & 0o777, 0o711 & ~process.umask());
    assert.equal(await makeDirs(leaf), undefined, 'nothing new');
    mkdirSync(join(dir, 'keep'));
    assert.equal(await makeDirs(join(dir, 'keep/x/y')), join(dir, 'keep/x'));
    await removeMadeDirs(join(dir, 'keep/x/y'), join(dir, 'keep/x'));
    assert.equal(existsSync(join(dir, 'keep/x')), false);
    assert.equal(existsSync(join(dir, 'keep')), true, 'what existed before stays');
    // Through a symlink to a directory, like mkdir -p.
    symlinkSync(join(dir, 'keep'), join(dir, 'link'));
    assert.equal(await makeDirs(join(dir, 'link/z')), join(dir, 'link/z'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('makeDirs never spins: /proc, a file on the way, a dangling symlink, absurd depth are all one clear error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-md-'));
  try {
    // Node's mkdir({ recursive: true }) loops forever on this one.
    const started = Date.now();
    await assert.rejects(makeDirs('/proc/nimbo-no-such/dir'), invalid(/\/proc cannot hold directories/));
    assert.ok(Date.now() - started < 2000);
    writeFileSync(join(dir, 'file'), '');
    await assert.rejects(makeDirs(join(dir, 'file/x')), invalid(/exists and is not a directory/));
    symlinkSync(join(dir, 'nowhere'), join(dir, 'dangling'));
    await assert.rejects(makeDirs(join(dir, 'dangling/x')), invalid(/dangling exists and is not a directory/));
    assert.equal(existsSync(join(dir, 'nowhere')), false);
    await assert.rejects(makeDirs(`${dir}${'/d'.repeat(MAX_DIR_DEPTH)}`), invalid(/nested deeper/));
    assert.equal(existsSync(join(dir, 'd')), false, 'refused before anything was made');
    // The synchronous twin (start-up code) walks the same way.
    assert.throws(() => makeDirsSync('/proc/nimbo-no-such/dir'), invalid(/\/proc cannot hold directories/));
    assert.equal(makeDirsSync(join(dir, 's/t')), join(dir, 's'));
    assert.equal(makeDirsSync(join(dir, 's/t')), undefined);
    assert.throws(() => makeDirsSync(join(dir, 'file/x')), invalid(/exists and is not a directory/));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
