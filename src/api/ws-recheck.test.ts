// An open WebSocket is closed once its credential stops holding: a revoked token, a disabled user.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { buildServer } from './server.js';
import type { ApiContext } from './context.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { EventBus } from '../core/events.js';
import { OperationManager } from '../core/operations.js';
import { ensureAdminToken } from '../core/auth.js';
import { identityServices } from '../core/identity/services.js';
import { silentLogger } from '../lib/log.js';

test('an open events WebSocket closes soon after its token is revoked, or its user is disabled; others stay open', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-ws-recheck-'));
  const store = new SqliteStore(join(dir, 'state.db'));
  const events = new EventBus();
  const log = silentLogger();
  await ensureAdminToken(store, join(dir, 'admin.token'));
  const ids = identityServices(store);
  await ids.users.create({ name: 'alice', password: 'alice-password-1' });
  await ids.users.create({ name: 'bob', password: 'bob-password-12' });
  const token = async (user: string) => ids.tokens.create((await ids.users.record(user))!, { name: 'ws', access: 'read' });
  const [a1, a2, b1] = [await token('alice'), await token('alice'), await token('bob')];
  const app = await buildServer({ log, store, events, ops: new OperationManager(store, events, log) } as unknown as ApiContext, { wsRecheckMs: 50 });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `ws://127.0.0.1:${(app.server.address() as { port: number }).port}/api/v1/events`;
  const open = async (secret: string) => {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${secret}` } });
    const closed = new Promise<void>((r) => ws.once('close', () => r()));
    await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
    return { ws, closed, isOpen: () => ws.readyState === WebSocket.OPEN };
  };
  try {
    const [s1, s2, s3] = [await open(a1.secret), await open(a2.secret), await open(b1.secret)];
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(s1.isOpen() && s2.isOpen() && s3.isOpen(), 'valid credentials keep their sockets');
    const admin = { userId: 'x', userName: 'admin', via: 'token' as const, platformRole: 'admin' as const, projects: {} };
    await ids.tokens.revoke(a1.token.id, admin);
    await s1.closed;
    assert.ok(s2.isOpen() && s3.isOpen(), "another token's socket stays");
    await ids.users.update('bob', { disabled: true });
    await s3.closed;
    assert.ok(s2.isOpen());
    s2.ws.close();
  } finally {
    await app.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
