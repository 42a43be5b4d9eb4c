import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyStateDirModes, STATE_DIR_MODES } from './state-modes.js';
import { ensurePrivateFile, PRIVATE_FILE_MODE } from '../lib/file-modes.js';
import { statePaths } from './config.js';
import { createLogger } from '../lib/log.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';

const modeOf = (p: string) => statSync(p).mode & 0o7777;

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'nimbo-modes-'));
  return d;
}

test('policy: no state dir subtree is readable (listable) or writable by group or others', () => {
  for (const [sub, mode] of Object.entries(STATE_DIR_MODES)) {
    assert.equal(mode & 0o066, 0, `${sub || 'the state dir'} is ${mode.toString(8)}`);
    assert.equal(mode & 0o700, 0o700, `${sub || 'the state dir'}: root can use it`);
  }
  assert.equal(STATE_DIR_MODES.logs, 0o700);
  assert.equal(STATE_DIR_MODES.cache, 0o700);
  assert.equal(PRIVATE_FILE_MODE, 0o600);
  // Every top-level directory the daemon keeps (statePaths) has a declared mode.
  const p = statePaths('/s');
  for (const d of [p.logs, p.images, p.instances, p.networks, p.cache, '/s/run', '/s/pools']) assert.ok(d.slice(3) in STATE_DIR_MODES, d);
});

test('applyStateDirModes creates the tree and tightens an older, looser one', () => {
  const root = join(tempDir(), 'state');
  try {
    mkdirSync(join(root, 'logs'), { recursive: true, mode: 0o755 });
    chmodSync(join(root, 'logs'), 0o777);
    chmodSync(root, 0o755);
    applyStateDirModes(root);
    for (const [sub, mode] of Object.entries(STATE_DIR_MODES)) assert.equal(modeOf(sub ? join(root, sub) : root), mode, sub);
  } finally {
    rmSync(join(root, '..'), { recursive: true, force: true });
  }
});

test('ensurePrivateFile: new files 0600, existing ones tightened, content kept', () => {
  const d = tempDir();
  try {
    ensurePrivateFile(join(d, 'new'));
    assert.equal(modeOf(join(d, 'new')), 0o600);
    writeFileSync(join(d, 'old'), 'keep');
    chmodSync(join(d, 'old'), 0o644);
    ensurePrivateFile(join(d, 'old'));
    assert.equal(modeOf(join(d, 'old')), 0o600);
    assert.equal(statSync(join(d, 'old')).size, 4);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('state.db and its -wal/-shm, and the daemon log, are 0600 in a 0700 logs dir', async () => {
  const d = tempDir();
  try {
    // An older install: a world-readable database and WAL.
    writeFileSync(join(d, 'state.db-wal'), '');
    chmodSync(join(d, 'state.db-wal'), 0o644);
    const s = new SqliteStore(join(d, 'state.db'));
    await s.put('/k', { v: 1 }); // writes through the WAL, so -wal and -shm exist now
    for (const f of ['state.db', 'state.db-wal', 'state.db-shm']) assert.equal(modeOf(join(d, f)), 0o600, f);
    await s.close();
    createLogger(d, 'silent');
    await new Promise((r) => setTimeout(r, 300)); // pino opens its file asynchronously: let it finish before the dir goes
    assert.equal(modeOf(join(d, 'logs')), 0o700);
    assert.equal(modeOf(join(d, 'logs', 'nimbod.log')), 0o600);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
