import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { RealExec } from '../host/exec.js';
import { ensureGenerated, type TlsMaterial } from '../daemon/tls.js';
import { runNimbo } from './cli-harness.js';
import { addRemote, type AddIo } from './commands/remotes.js';
import { saveToken } from './credentials.js';
import { FakeDaemon } from './fake-daemon.js';
import { checkRemoteName, checkRemoteUrl, configFile, readRemotes, writeRemotes } from './remotes.js';

const dir = mkdtempSync(join(tmpdir(), 'nimbo-remotes-'));
const fake = new FakeDaemon();
let served: TlsMaterial & { generated: boolean };
let other: TlsMaterial;
before(async () => {
  served = await ensureGenerated(new RealExec(), join(dir, 'served'), '127.0.0.1');
  other = await ensureGenerated(new RealExec(), join(dir, 'other'), '127.0.0.1');
  await fake.start({ cert: served.cert, key: served.key });
});
after(async () => {
  await fake.stop();
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
/** A fresh config dir (as NIMBO_CONFIG_DIR) for one test. */
function freshEnv(): NodeJS.ProcessEnv {
  return { NIMBO_CONFIG_DIR: join(dir, `cfg${++n}`) };
}

/** An AddIo that answers `answer` (or has no terminal when undefined) and collects what is shown. */
function io(env: NodeJS.ProcessEnv, answer?: string): AddIo & { shown: string; asked: string[] } {
  const o = { shown: '', asked: [] as string[], env, write: (t: string) => void (o.shown += t) } as AddIo & { shown: string; asked: string[] };
  if (answer !== undefined) o.ask = async (q: string) => (o.asked.push(q), answer);
  return o;
}

test('remote names and URLs are checked, and a URL never carries a token', () => {
  for (const ok of ['prod', 'eu-1', '0']) checkRemoteName(ok);
  for (const bad of ['', 'Prod', '-x', 'a/b', '../x', 'a'.repeat(64)]) assert.throws(() => checkRemoteName(bad), /is not valid: use 1-63 lowercase letters/);
  assert.equal(checkRemoteUrl('https://vps.example.com:8443/'), 'https://vps.example.com:8443');
  assert.equal(checkRemoteUrl('http://127.0.0.1:8443'), 'http://127.0.0.1:8443');
  assert.throws(() => checkRemoteUrl('http://vps.example.com:8443'), { message: 'nimbod serves plain HTTP on loopback only: use https://vps.example.com:8443' });
  assert.throws(() => checkRemoteUrl('https://vps.example.com/?token=abc'), /carries no user, password, query or fragment/);
  assert.throws(() => checkRemoteUrl('https://me:secret@vps.example.com/'), /carries no user, password/);
  assert.throws(() => checkRemoteUrl('ftp://x'), /is https:\/\/HOST:PORT, not ftp:/);
  assert.throws(() => checkRemoteUrl('vps'), /is not a URL/);
});

test('the remotes file is 0600 in a 0700 directory; a damaged one is an error, not a silent reset', () => {
  const env = freshEnv();
  assert.deepEqual(readRemotes(env), { remotes: {} });
  writeRemotes({ current: 'a', remotes: { a: { url: 'https://a:1', fingerprint: served.fingerprint } } }, env);
  assert.equal(statSync(configFile(env)).mode & 0o777, 0o600);
  assert.equal(statSync(env.NIMBO_CONFIG_DIR!).mode & 0o777, 0o700);
  assert.deepEqual(readRemotes(env), { current: 'a', remotes: { a: { url: 'https://a:1', fingerprint: served.fingerprint } } });
  writeFileSync(configFile(env), '{"remotes": {"a": {"url": 5}}}');
  assert.throws(() => readRemotes(env), { message: `${configFile(env)} is not a valid remotes file (remote "a" has no valid url); fix or remove it` });
  writeFileSync(configFile(env), 'nope');
  assert.throws(() => readRemotes(env), /is not a valid remotes file \(not JSON\)/);
  // A name like __proto__ is refused before it can become a prototype.
  writeFileSync(configFile(env), '{"remotes": {"__proto__": {"url": "https://x:1"}}}');
  assert.throws(() => readRemotes(env), /remote name "__proto__" is not valid/);
  assert.equal(({} as { url?: string }).url, undefined);
});

test('remote add shows both fingerprints, asks, and pins the server certificate only when trusted', async () => {
  const env = freshEnv();
  const yes = io(env, 'y');
  const r = await addRemote('prod', fake.url, undefined, yes);
  assert.deepEqual(r, { url: fake.url, fingerprint: served.fingerprint });
  assert.match(yes.shown, new RegExp(`SHA-256 fingerprint: ${served.fingerprint}`));
  assert.match(yes.shown, new RegExp(`CA SHA-256: +${served.caFingerprint}`));
  assert.match(yes.shown, /issued by: +CN=nimbo CA@/);
  assert.deepEqual(yes.asked, ['Trust this certificate and pin its fingerprint for remote prod? [y/N] ']);
  assert.deepEqual(readRemotes(env).remotes, { prod: { url: fake.url, fingerprint: served.fingerprint } });
  await assert.rejects(addRemote('prod', fake.url, undefined, io(env, 'y')), { message: `remote prod exists already (${fake.url}): remove it first to change it` });
  await assert.rejects(addRemote('local', fake.url, undefined, io(env, 'y')), /local is the daemon of this host/);
  // "no", no terminal, or a wrong --accept-fingerprint: nothing is saved.
  const env2 = freshEnv();
  await assert.rejects(addRemote('prod', fake.url, undefined, io(env2, 'n')), { message: 'remote prod was not added (the certificate was not trusted)' });
  await assert.rejects(addRemote('prod', fake.url, undefined, io(env2)), /stdin is not a terminal: pass --accept-fingerprint/);
  await assert.rejects(addRemote('prod', fake.url, other.fingerprint, io(env2)), {
    message: `the certificate's SHA-256 fingerprint is ${served.fingerprint}, not the --accept-fingerprint ${other.fingerprint}; remote prod was not added`,
  });
  assert.deepEqual(readRemotes(env2), { remotes: {} });
  // The right fingerprint in any usual spelling is accepted without a question.
  const scripted = io(env2);
  await addRemote('prod', `${fake.url}/`, served.fingerprint.replace(/:/g, '').toLowerCase(), scripted);
  assert.equal(readRemotes(env2).remotes.prod?.fingerprint, served.fingerprint);
  assert.ok(fake.seen.every((s) => s.auth === undefined || s.auth === `Bearer ${fake.token}`), 'no other token was ever sent');
});

test('nimbo remote add/switch/list/show/remove, and every command then uses the current remote and its token', async () => {
  const home = join(dir, 'home');
  mkdirSync(home, { recursive: true });
  const env = { NIMBO_URL: '', NIMBO_TOKEN: '' };
  const nimbo = (...args: string[]) => runNimbo('', '', home, args, env);
  const added = await nimbo('remote', 'add', 'prod', fake.url, '--accept-fingerprint', served.fingerprint);
  assert.equal(added.code, 0, added.stderr);
  assert.match(added.stdout, /^added remote prod \(https:\/\/127\.0\.0\.1:\d+, pinned [0-9A-F:]+\); use it with nimbo remote switch prod/);
  assert.match(added.stderr, /CA SHA-256:/);
  const cfg = join(home, '.config', 'nimbo', 'config.json');
  assert.equal(statSync(cfg).mode & 0o777, 0o600);
  // No token stored yet: a clear sentence, and nothing sent.
  const noToken = await nimbo('--remote', 'prod', 'list');
  assert.equal(noToken.code, 6);
  assert.match(noToken.stderr, /no API token for remote prod: log in with nimbo --remote prod login, or set NIMBO_TOKEN or pass --token-file FILE/);
  saveToken('prod', fake.token, { HOME: home });
  const sw = await nimbo('remote', 'switch', 'prod');
  assert.equal(sw.stdout, 'current remote: prod\n');
  const before = fake.seen.length;
  const list = await nimbo('list', '-o', 'json');
  assert.equal(list.code, 0, list.stderr);
  assert.equal(JSON.parse(list.stdout)[0].name, 'vm1');
  assert.equal(fake.seen.at(-1)?.auth, `Bearer ${fake.token}`);
  assert.ok(fake.seen.length > before);
  const ls = await nimbo('remote', 'list');
  assert.match(ls.stdout, /^ +NAME +URL +FINGERPRINT +TOKEN\n +local +http:\/\/127\.0\.0\.1:8443 +- +no\n\* +prod +https:\/\/127\.0\.0\.1:\d+ +[0-9A-F:]{23}\.\.\. +yes\n$/);
  const show = await nimbo('remote', 'show', '-o', 'json');
  assert.deepEqual(JSON.parse(show.stdout), { remote: 'prod', url: fake.url, fingerprint: served.fingerprint, caFile: null, token: join(home, '.config', 'nimbo', 'credentials', 'prod.token'), config: cfg });
  // NIMBO_URL says otherwise: the remote's token is not sent to another URL.
  const elsewhere = await runNimbo('', '', home, ['remote', 'show', '-o', 'json'], { NIMBO_URL: 'https://203.0.113.9:8443', NIMBO_TOKEN: '' });
  assert.deepEqual(JSON.parse(elsewhere.stdout).remote, null);
  assert.match(JSON.parse(elsewhere.stdout).token, /^none \(no API token for https:\/\/203\.0\.113\.9:8443/);
  // A pinned fingerprint that no longer matches is refused, with no fallback and nothing sent.
  const c = JSON.parse(readFileSync(cfg, 'utf8'));
  c.remotes.prod.fingerprint = other.fingerprint;
  writeFileSync(cfg, JSON.stringify(c));
  const seen = fake.seen.length;
  const pinned = await nimbo('list');
  assert.equal(pinned.code, 1);
  assert.match(pinned.stderr, /^nimbo: error: refusing to talk to 127\.0\.0\.1:\d+: its certificate's SHA-256 fingerprint is [0-9A-F:]+, not the pinned /);
  assert.equal(fake.seen.length, seen);
  const rm = await nimbo('remote', 'remove', 'prod');
  assert.equal(rm.stdout, 'removed remote prod; the current remote is local again\n');
  assert.deepEqual(JSON.parse(readFileSync(cfg, 'utf8')), { remotes: {} });
  const gone = await nimbo('--remote', 'prod', 'list');
  assert.equal(gone.code, 3);
  assert.match(gone.stderr, /there is no remote named "prod"/);
});

test('tokens are never on the command line: --token is gone, --token-file reads a file', async () => {
  const home = join(dir, 'home2');
  mkdirSync(home, { recursive: true });
  const old = await runNimbo(fake.url, '', home, ['--token', fake.token, 'list']);
  assert.equal(old.code, 2);
  assert.match(old.stderr, /unknown option '--token'/);
  const file = join(home, 'tok');
  writeFileSync(file, `${fake.token}\n`, { mode: 0o600 });
  const r = await runNimbo(fake.url, '', home, ['--token-file', file, '--tls-fingerprint', served.fingerprint, 'list', '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(fake.seen.at(-1)?.auth, `Bearer ${fake.token}`);
  const missing = await runNimbo(fake.url, '', home, ['--token-file', join(home, 'nope'), 'list']);
  assert.equal(missing.code, 6);
  assert.equal(missing.stderr, `nimbo: error: --token-file ${join(home, 'nope')} cannot be read (ENOENT)\n`);
});
