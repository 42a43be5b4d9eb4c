import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveInside } from './disk-files.js';

test('resolveInside: relative links followed inside, escapes and absolute links refused, .. clamped at nothing', async () => {
  const root = mkdtempSync(join(tmpdir(), `diskfiles-unit-${process.pid}-`));
  try {
    mkdirSync(join(root, 'etc/sub'), { recursive: true });
    writeFileSync(join(root, 'etc/hosts'), 'x');
    symlinkSync('../hosts', join(root, 'etc/sub/up'));
    symlinkSync('sub', join(root, 'etc/dirlink'));
    symlinkSync('/etc/passwd', join(root, 'abs'));
    symlinkSync('../../../etc/passwd', join(root, 'etc/out'));
    symlinkSync('loop2', join(root, 'loop1'));
    symlinkSync('loop1', join(root, 'loop2'));
    assert.equal(await resolveInside(root, '/etc/sub/up'), join(root, 'etc/hosts'));
    assert.equal(await resolveInside(root, '/etc/dirlink/../hosts'), join(root, 'etc/hosts'), '.. after a followed link is physical');
    assert.equal(await resolveInside(root, '/./etc//hosts'), join(root, 'etc/hosts'));
    await assert.rejects(resolveInside(root, '/abs'), /symlink to the absolute path \/etc\/passwd: refused/);
    await assert.rejects(resolveInside(root, '/etc/out'), /outside the partition: refused/);
    await assert.rejects(resolveInside(root, '/../etc/hosts'), /climbs above the partition's root/);
    await assert.rejects(resolveInside(root, '/loop1'), /too many levels of symbolic links/);
    await assert.rejects(resolveInside(root, '/etc/hosts/x'), /\/etc\/hosts is not a directory/);
    await assert.rejects(resolveInside(root, '/nope/x'), /\/nope in the partition/);
    await assert.rejects(resolveInside(root, 'etc/hosts'), /must be absolute/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
