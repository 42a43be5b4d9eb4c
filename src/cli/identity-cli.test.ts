// nimbo login|whoami|token|user|project against the real API server (identity routes, authentication) over a real store.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../api/server.js';
import type { ApiContext } from '../api/context.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { ensureFirstAdmin, type AdminCredentials } from '../core/identity/first-admin.js';
import { silentLogger } from '../lib/log.js';
import { runNimbo } from './cli-harness.js';

let app: FastifyInstance;
let store: SqliteStore;
let url: string;
let admin: AdminCredentials;
const dir = mkdtempSync(join(tmpdir(), 'nimbo-idcli-'));
const home = join(dir, 'home');
const tokenFile = join(home, '.config', 'nimbo', 'credentials', 'local.token');
/** `nimbo ARGS` with no token of its own: what login stored, else `token`. */
const nimbo = (args: string[], stdin = '', token = '') => runNimbo(url, token, home, args, {}, stdin);

before(async () => {
  store = new SqliteStore(join(dir, 'state.db'));
  await ensureFirstAdmin(store, join(dir, 'admin.token'), join(dir, 'admin.credentials'));
  admin = JSON.parse(readFileSync(join(dir, 'admin.credentials'), 'utf8')) as AdminCredentials;
  app = await buildServer({ log: silentLogger(), store } as unknown as ApiContext);
  await app.listen({ host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  // The daemon's own record of its URL makes this URL the `local` remote, whose token login stores.
  mkdirSync(home, { recursive: true });
  writeFileSync(join(home, 'daemon.json'), JSON.stringify({ url }));
});
after(async () => {
  await app.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test('login reads the password from stdin (never a flag) and stores a token, mode 0600; whoami uses it', async () => {
  const flag = await nimbo(['login', '--user', 'admin', '--password', admin.password]);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /unknown option '--password'/);
  const bare = await runNimbo(url, '', home, ['login', '--user', 'admin'], { NIMBO_STATE_DIR: join(dir, 'elsewhere') }, `${admin.password}\n`);
  assert.equal(bare.code, 2);
  assert.match(bare.stderr, /is not a remote: add it first \(nimbo remote add NAME http:/);
  const noUser = await nimbo(['login'], `${admin.password}\n`);
  assert.equal(noUser.code, 2);
  assert.match(noUser.stderr, /pass --user NAME/);
  const bad = await nimbo(['login', '--user', 'admin'], 'wrong-password\n');
  assert.equal(bad.code, 6, bad.stderr);
  assert.equal(bad.stderr, 'nimbo: error: wrong user name or password\n');
  assert.equal(existsSync(tokenFile), false);
  const r = await nimbo(['login', '--user', 'admin'], `${admin.password}\n`);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Logged in as admin; token [0-9a-f]{16} saved in .*local\.token\n$/);
  assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
  assert.match(readFileSync(tokenFile, 'utf8'), /^nimbo_[0-9a-f]{16}_[A-Za-z0-9_-]{43}\n$/);
  const w = await nimbo(['whoami']);
  assert.equal(w.code, 0, w.stderr);
  assert.match(w.stdout, /User:\s+admin\n/);
  assert.match(w.stdout, /Projects:\s+default=owner\n/);
  assert.match(w.stdout, /Via:\s+token [0-9a-f]{16} \(write\)\n/);
});

test('token create prints the secret once; list never shows it; revoke makes it useless', async () => {
  const c = await nimbo(['token', 'create', 'grafana', '--read-only', '--project', 'default', '--expires', '30d', '-o', 'json']);
  assert.equal(c.code, 0, c.stderr);
  const made = JSON.parse(c.stdout) as { secret: string; token: { id: string; access: string; project: string; expiresAt: string } };
  assert.deepEqual([made.token.access, made.token.project], ['read', 'default']);
  assert.ok(Math.abs(Date.parse(made.token.expiresAt) - Date.now() - 30 * 86400_000) < 60_000);
  const l = await nimbo(['token', 'list']);
  assert.equal(l.code, 0, l.stderr);
  assert.match(l.stdout, /^ID\s+NAME\s+ACCESS\s+PROJECT\s+STATE\s+EXPIRES\s+LAST USED\n/);
  assert.match(l.stdout, new RegExp(`${made.token.id}\\s+grafana\\s+read\\s+default\\s+active`));
  assert.equal(l.stdout.includes(made.secret.slice(24)), false);
  const asIt = await nimbo(['whoami'], '', made.secret);
  assert.match(asIt.stdout, /Via:\s+token [0-9a-f]{16} \(read, project default\)/);
  const v = await nimbo(['token', 'revoke', made.token.id]);
  assert.equal(v.stdout, `Revoked token ${made.token.id} (grafana)\n`);
  const dead = await nimbo(['whoami'], '', made.secret);
  assert.equal(dead.code, 6);
  assert.match(dead.stderr, new RegExp(`token nimbo_${made.token.id}… was revoked at`));
  const badExp = await nimbo(['token', 'create', 'x', '--expires', '30']);
  assert.equal(badExp.code, 2);
  assert.match(badExp.stderr, /--expires "30" must look like 90m, 12h, 30d, 2w or 1y/);
});

test('user and project commands: create, roles, members, disable, delete', async () => {
  const u = await nimbo(['user', 'create', 'bob'], 'bob-password\n');
  assert.equal(u.code, 0, u.stderr);
  assert.equal(u.stdout, 'Created user bob\n');
  assert.equal((await nimbo(['user', 'set-role', 'bob', 'operator'])).stdout, 'User bob: platform role operator\n');
  assert.match((await nimbo(['user', 'list'])).stdout, /bob\s+operator\s+default\s+enabled/);
  assert.equal((await nimbo(['project', 'create', 'shop', '--description', 'the web shop'])).stdout, 'Created project shop\n');
  assert.equal((await nimbo(['project', 'member', 'add', 'shop', 'bob', '--role', 'viewer'])).stdout, 'Added bob to project shop as viewer\n');
  const ml = await nimbo(['project', 'member', 'list', 'shop']);
  assert.match(ml.stdout, /^USER\s+ROLE\s+ADDED\nadmin\s+owner\s+.*\nbob\s+viewer\s+/);
  const last = await nimbo(['project', 'member', 'set-role', 'shop', 'admin', 'viewer']);
  assert.equal(last.code, 4);
  assert.match(last.stderr, /last owner of project shop/);
  const show = await nimbo(['project', 'show', 'shop', '-o', 'json']);
  assert.deepEqual((JSON.parse(show.stdout) as { members: { user: string }[] }).members.map((m) => m.user), ['admin', 'bob']);
  // bob logs in: a viewer of shop sees it, cannot change its members.
  const bobToken = await nimbo(['login', '--user', 'bob'], 'bob-password\n');
  assert.equal(bobToken.code, 0, bobToken.stderr);
  const no = await nimbo(['project', 'member', 'add', 'shop', 'bob', '--role', 'owner']);
  assert.equal(no.code, 6, no.stderr);
  assert.match(no.stderr, /viewer in project shop and may not change project members/);
  const lo = await nimbo(['logout']);
  assert.match(lo.stdout, /^Logged out \(token [0-9a-f]{16} revoked\)\n$/);
  assert.equal(existsSync(tokenFile), false);
  // Back as admin (its token given explicitly).
  const as = (args: string[]) => nimbo(args, '', admin.token);
  assert.equal((await as(['user', 'disable', 'bob'])).stdout, 'Disabled user bob\n');
  assert.equal((await nimbo(['login', '--user', 'bob'], 'bob-password\n')).stderr, 'nimbo: error: user bob is disabled\n');
  assert.equal((await as(['project', 'member', 'remove', 'shop', 'bob'])).stdout, 'Removed bob from project shop\n');
  assert.equal((await as(['project', 'delete', 'shop'])).stdout, 'Deleted project shop\n');
  assert.equal((await as(['user', 'delete', 'bob'])).stdout, 'Deleted user bob\n');
  const gone = await as(['user', 'show', 'bob']);
  assert.equal(gone.code, 3);
  assert.equal(gone.stderr, 'nimbo: error: user bob not found\n');
});
