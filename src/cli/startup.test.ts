/**
 * Guards the CLI's startup path structurally (never by timing): `list`, `info` and `--version`, run from main.js
 * and from the bundle ./nimbo runs, load no schema library, no YAML, no WebSocket, no daemon code, no undici
 * (global fetch) and no TLS for an http daemon, and only the command module they need.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { FakeDaemon, sampleInstance } from './fake-daemon.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const BUNDLE = fileURLToPath(new URL('./nimbo.cjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'nimbo-startup-'));
const fake = new FakeDaemon();

// An ESM resolve hook (it runs on the loader thread) and a preload that records CommonJS modules and node's
// own internal modules at exit; all three append to the file named by NIMBO_LOAD_LOG.
const HOOK = `import { appendFileSync } from 'node:fs';
export async function resolve(spec, ctx, next) { const r = await next(spec, ctx); appendFileSync(process.env.NIMBO_LOAD_LOG, r.url + '\\n'); return r; }`;
const PRELOAD = `import { register, createRequire } from 'node:module';
import { appendFileSync } from 'node:fs';
register(${JSON.stringify(pathToFileURL(join(dir, 'hook.mjs')).href)});
const require = createRequire(import.meta.url);
process.on('exit', () => appendFileSync(process.env.NIMBO_LOAD_LOG, [...Object.keys(require.cache), ...process.moduleLoadList].join('\\n') + '\\n'));`;

/** What a run printed and every module it loaded (file URLs and paths, and node's "NativeModule x" entries). */
async function loadedBy(file: string, args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string; loaded: string[] }> {
  const log = join(dir, `load-${Math.random().toString(36).slice(2)}.txt`);
  writeFileSync(log, '');
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', pathToFileURL(join(dir, 'preload.mjs')).href, file, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: dir, NIMBO_STATE_DIR: dir, NIMBO_URL: fake.url, NIMBO_TOKEN: fake.token, NIMBO_LOAD_LOG: log, ...extraEnv },
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    p.on('close', (code) => resolve({ code, stdout, stderr, loaded: readFileSync(log, 'utf8').split('\n').filter(Boolean) }));
  });
}

const FORBIDDEN: [string, RegExp][] = [
  ['TypeBox', /node_modules\/@sinclair\/typebox\//],
  ['yaml', /node_modules\/yaml\//],
  ['ws', /node_modules\/ws\//],
  ['fastify', /node_modules\/(@fastify\/|fastify\/)/],
  ['better-sqlite3', /node_modules\/better-sqlite3\//],
  ['pino', /node_modules\/pino\//],
  ['undici (global fetch)', /^NativeModule internal\/deps\/undici/],
  ['node:tls (an http daemon needs no TLS)', /^NativeModule tls$/],
  ['daemon-side code', /\/dist\/src\/(daemon|api|store|drivers|images|network|storage)\//],
  ['other command modules', /\/dist\/src\/cli\/commands\/(storage|networks|firewall|images|operations|host|completion)\.js$/],
];

function assertLean(what: string, loaded: string[]): void {
  for (const [name, re] of FORBIDDEN) {
    const hit = loaded.find((m) => re.test(m));
    assert.equal(hit, undefined, `${what} loads ${name}: ${hit}`);
  }
}

before(async () => {
  writeFileSync(join(dir, 'hook.mjs'), HOOK);
  writeFileSync(join(dir, 'preload.mjs'), PRELOAD);
  await fake.start();
  fake.instances = Array.from({ length: 10 }, (_, i) => sampleInstance({ name: `s${i}`, state: 'stopped' }));
});
after(async () => {
  await fake.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('the recorder sees what it must: a full-program run loads the other command modules and yaml does load', async () => {
  // Without this, an empty or broken recording would pass every assertion below.
  const help = await loadedBy(MAIN, ['--help']);
  assert.equal(help.code, 0, help.stderr);
  assert.ok(help.loaded.some((m) => /\/dist\/src\/cli\/commands\/storage\.js$/.test(m)), 'the full program loads storage.js');
  const y = await loadedBy(MAIN, ['list', '-o', 'yaml']);
  assert.equal(y.code, 0, y.stderr);
  assert.ok(y.loaded.some((m) => /node_modules\/yaml\//.test(m)), 'yaml output loads yaml');
  assert.ok(y.loaded.includes('NativeModule http'), 'node:http is recorded');
});

for (const args of [['list'], ['info', 's0'], ['--version']]) {
  test(`main.js ${args.join(' ')} loads no schema library, yaml, ws, undici or daemon code`, async () => {
    const r = await loadedBy(MAIN, args);
    assert.equal(r.code, 0, r.stderr);
    if (args[0] === 'list') assert.match(r.stdout, /^NAME .*\ns0 /);
    assertLean(`main.js ${args.join(' ')}`, r.loaded);
    const project = r.loaded.filter((m) => m.includes('/dist/src/'));
    assert.ok(project.every((m) => /\/dist\/src\/(cli|shared|lib)\//.test(m)), `only CLI, shared and lib modules: ${project.join(', ')}`);
  });
}

test('the bundle ./nimbo runs is fresh, its code cache is accepted, and it is just as lean', async (t) => {
  const fresh = existsSync(BUNDLE) && statSync(BUNDLE).mtimeMs > statSync(MAIN).mtimeMs;
  if (!fresh) {
    // setup.sh and `npm run build` make it; a bare `tsc` leaves it stale and ./nimbo then runs main.js.
    if (process.env.CI === 'true') assert.fail(`${BUNDLE} is missing or older than main.js (scripts/bundle-cli.mjs)`);
    t.skip('the bundle is missing or stale (run scripts/bundle-cli.mjs)');
    return;
  }
  assert.ok(existsSync(BUNDLE.replace(/nimbo\.cjs$/, 'nimbo-body.cjs.cache')), 'the code cache was made');
  for (const args of [['list'], ['info', 's0'], ['--version']]) {
    // NIMBO_DEBUG=1: the loader says so when V8 rejects the cache (made by another node, or for another file).
    const r = await loadedBy(BUNDLE, args, { NIMBO_DEBUG: '1' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assertLean(`nimbo.cjs ${args.join(' ')}`, r.loaded);
    // One file (the loader runs the body as a script): no project module is loaded beside them.
    assert.deepEqual(r.loaded.filter((m) => m.includes('/dist/src/') && !m.endsWith('/dist/src/cli/nimbo.cjs')), []);
  }
  const list = await loadedBy(BUNDLE, ['list']);
  const viaMain = await loadedBy(MAIN, ['list']);
  assert.equal(list.stdout, viaMain.stdout);
});
