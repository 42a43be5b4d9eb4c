import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeExec } from '../../host/fake-exec.js';
import { NamespacedNetFs } from './host-fs.js';

test('NamespacedNetFs reads and writes /proc/sys/net through exec, everything else directly', async () => {
  const exec = new FakeExec()
    .on(['cat', '/proc/sys/net/ipv4/ip_forward'], { stdout: '0\n' })
    .on(['cat', '/proc/sys/net/ipv4/conf/gone/route_localnet'], { code: 1, stderr: 'No such file or directory' });
  const fs = new NamespacedNetFs(exec);
  assert.equal(await fs.readText('/proc/sys/net/ipv4/ip_forward'), '0\n');
  assert.equal(await fs.readText('/proc/sys/net/ipv4/conf/gone/route_localnet'), null);
  await fs.writeInPlace('/proc/sys/net/ipv4/ip_forward', '1\n');
  assert.deepEqual(exec.calls.at(-1), { argv: ['tee', '/proc/sys/net/ipv4/ip_forward'], input: '1\n' });
  const dir = await mkdtemp(join(tmpdir(), 'nimbo-nsfs-'));
  try {
    await fs.writeText(join(dir, 'f'), 'data');
    assert.equal(await readFile(join(dir, 'f'), 'utf8'), 'data');
    assert.equal(await fs.readText(join(dir, 'f')), 'data');
    assert.equal(exec.calls.length, 3, 'plain files do not go through exec');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
