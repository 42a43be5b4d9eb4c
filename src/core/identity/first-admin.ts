// The first admin: at nimbod's first start, user `admin` (platform admin, owner of project 'default') with
// a random password and an API token, written to STATE/admin.credentials (0600) and STATE/admin.token.
// An admin.token from before users existed keeps working: it becomes a token of that first admin.
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { keys, DEFAULT_PROJECT } from '../../store/keys.js';
import type { Store } from '../../store/store.js';
import type { Logger } from '../../lib/log.js';
import { ProjectService } from './projects.js';
import { UserService } from './users.js';
import { TokenService } from './tokens.js';
import { randomSecret, tokenId } from './secrets.js';
import type { UserRecord } from './records.js';

/** The name of the user nimbod makes at its first start. */
export const FIRST_ADMIN = 'admin';

/** What admin.credentials holds (JSON, mode 0600). */
export interface AdminCredentials {
  user: string;
  password: string;
  token: string;
}

function writePrivate(file: string, text: string): void {
  writeFileSync(file, text, { mode: 0o600 });
  chmodSync(file, 0o600); // an existing file keeps its mode through writeFileSync
}

/**
 * Make sure project 'default', the first admin and the admin token exist; returns the token in `tokenFile`.
 * Idempotent: a second start changes nothing (a revoked admin token stays revoked).
 */
export async function ensureFirstAdmin(store: Store, tokenFile: string, credentialsFile: string, log?: Logger): Promise<string> {
  const projects = new ProjectService(store);
  const users = new UserService(store, projects);
  const tokens = new TokenService(store);
  await projects.ensureDefault();
  let admin = await users.record(FIRST_ADMIN);
  let password: string | undefined;
  if (!admin && (await store.list(keys.users)).length === 0) {
    password = randomSecret(18);
    await users.create({ name: FIRST_ADMIN, password, platformRole: 'admin' });
    await projects.setRole(DEFAULT_PROJECT, FIRST_ADMIN, 'owner');
    admin = await users.record(FIRST_ADMIN);
    log?.info({ user: FIRST_ADMIN, credentials: credentialsFile }, 'made the first admin');
  }
  admin ??= await firstPlatformAdmin(store);
  let token: string;
  if (existsSync(tokenFile)) {
    token = readFileSync(tokenFile, 'utf8').trim();
    chmodSync(tokenFile, 0o600);
    if (admin) {
      if (tokenId(token)) await tokens.adopt(admin, token, 'admin.token');
      else await tokens.adoptLegacy(admin, token);
    }
  } else if (admin) {
    token = (await tokens.create(admin, { name: 'admin.token' })).secret;
    writePrivate(tokenFile, token + '\n');
  } else {
    log?.warn('no platform admin user exists: admin.token was not made');
    return '';
  }
  if (password !== undefined) {
    const creds: AdminCredentials = { user: FIRST_ADMIN, password, token };
    writePrivate(credentialsFile, JSON.stringify(creds, null, 2) + '\n');
  }
  else if (existsSync(credentialsFile)) chmodSync(credentialsFile, 0o600); // re-tightened at every start, like admin.token
  return token;
}

async function firstPlatformAdmin(store: Store): Promise<UserRecord | undefined> {
  const admins = (await store.list<UserRecord>(keys.users)).map((kv) => kv.value).filter((u) => u.platformRole === 'admin' && !u.disabled);
  return admins.sort((a, b) => a.createdAt.localeCompare(b.createdAt))[0];
}
