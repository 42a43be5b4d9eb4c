import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { renderSeed } from '../../../../images/seed.js';
import { CONTAINER_SEED_DIR, renderSeedDir } from './seed-dir.js';

const files = () => renderSeed({
  instanceId: 'i-1', hostname: 'ct1', sshKeys: ['ssh-ed25519 AAAA k'], password: 'pw',
  nics: [{ mac: '52:54:00:00:00:01', address: '10.9.0.2/24', gateway: '10.9.0.1', dns: ['10.9.0.1'] }],
});

test('the container seed dir is outside /run (the init mounts a tmpfs there)', () => {
  assert.equal(CONTAINER_SEED_DIR, '/.nimbo/seed');
});

test('renderSeedDir writes the ISO file map, replacing old contents', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'qh5-seeddir-'));
  try {
    const seed = join(dir, 'seed');
    await mkdir(join(seed, 'nimbo'), { recursive: true });
    await writeFile(join(seed, 'nimbo/net-eth7'), 'stale\n');
    const f = files();
    await renderSeedDir(f, seed);
    for (const [p, content] of Object.entries(f)) {
      assert.equal(await readFile(join(seed, p), 'utf8'), content, p);
      assert.equal((await stat(join(seed, p))).mode & 0o777, 0o644);
    }
    assert.deepEqual((await readdir(join(seed, 'nimbo'))).sort(),
      ['authorized_keys', 'hostname', 'instance-id', 'net-eth0', 'password']);
    assert.equal((await stat(seed)).mode & 0o777, 0o755);
    assert.deepEqual(await readdir(dir), ['seed'], 'no staging left behind');
    await assert.rejects(renderSeedDir({ '../x': 'y' }, seed), /invalid seed file path/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('renderSeedDir with an owner: only the container root reads it', { skip: process.getuid?.() !== 0 && 'needs root' }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'qh5-seeddir-'));
  try {
    await renderSeedDir(files(), join(dir, 'seed'), { uid: 200000, gid: 200001 });
    for (const p of ['', 'nimbo', 'nimbo/password', 'meta-data']) {
      const st = await stat(join(dir, 'seed', p));
      assert.equal(st.uid, 200000, p);
      assert.equal(st.gid, 200001, p);
      assert.equal(st.mode & 0o777, st.isDirectory() ? 0o700 : 0o600, p);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
