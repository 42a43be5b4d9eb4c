import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../store/sqlite/sqlite-store.js';
import { keys } from '../../store/keys.js';
import { identityServices, type IdentityServices } from './services.js';
import { SESSION_ABSOLUTE_MS, SESSION_IDLE_MS } from './sessions.js';
import { sha256 } from './secrets.js';
import type { UserRecord } from './records.js';

let dir: string;
let store: SqliteStore;
let svc: IdentityServices;
let user: UserRecord;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nimbo-sessions-'));
  store = new SqliteStore(join(dir, 'state.db'));
  svc = identityServices(store);
  await svc.projects.ensureDefault();
  await svc.users.create({ name: 'dave', password: 'dave-password' });
  user = (await svc.users.record('dave'))!;
});
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a session is stored under the SHA-256 of its cookie, never the cookie', async () => {
  const s = await svc.sessions.create(user);
  assert.equal(await store.get(keys.session(s.id)), undefined);
  assert.ok(await store.get(keys.session(sha256(s.id))));
  assert.equal((await svc.sessions.verify(s.id)).userName, 'dave');
  assert.equal(s.expiresAt.getTime() - Date.now() <= SESSION_IDLE_MS, true);
});

test('a session ends after 12 hours idle, and activity keeps it alive', async () => {
  const t0 = new Date();
  const s = await svc.sessions.create(user, t0);
  const at = (ms: number) => new Date(t0.getTime() + ms);
  await svc.sessions.verify(s.id, at(SESSION_IDLE_MS - 60_000)); // seen: the idle clock restarts
  await svc.sessions.verify(s.id, at(2 * SESSION_IDLE_MS - 120_000));
  await assert.rejects(svc.sessions.verify(s.id, at(3 * SESSION_IDLE_MS)), /the session expired at/);
  await assert.rejects(svc.sessions.verify(s.id, at(3 * SESSION_IDLE_MS)), /not valid/, 'an expired session is removed');
});

test('a session ends 7 days after login however busy', async () => {
  const t0 = new Date();
  const s = await svc.sessions.create(user, t0);
  for (let ms = 0; ms < SESSION_ABSOLUTE_MS; ms += SESSION_IDLE_MS / 2) await svc.sessions.verify(s.id, new Date(t0.getTime() + ms));
  await assert.rejects(svc.sessions.verify(s.id, new Date(t0.getTime() + SESSION_ABSOLUTE_MS)), new RegExp(`expired at ${new Date(t0.getTime() + SESSION_ABSOLUTE_MS).toISOString()}`));
});

test('logout ends a session; a password change or disabling the user ends all of them', async () => {
  const a = await svc.sessions.create(user);
  await svc.sessions.end(a.id);
  await assert.rejects(svc.sessions.verify(a.id), /not valid/);
  const b = await svc.sessions.create(user);
  await svc.users.update('dave', { password: 'new-dave-password' });
  await assert.rejects(svc.sessions.verify(b.id), /not valid/);
  const c = await svc.sessions.create(user);
  await svc.users.create({ name: 'root-admin', password: 'admin-password', platformRole: 'admin' });
  await svc.users.update('dave', { disabled: true });
  await assert.rejects(svc.sessions.verify(c.id), /not valid/);
});
