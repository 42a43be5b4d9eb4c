import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FakeDaemon, freePort } from './fake-daemon.js';
import { CLI_HARNESS as HARNESS, runNimbo, type CliResult as Result } from './cli-harness.js';

const fake = new FakeDaemon();
const home = mkdtempSync(join(tmpdir(), 'nimbo-cli-'));
/** `nimbo ARGS` against the fake daemon. */
function nimbo(args: string[], env: Record<string, string> = {}, stdin = ''): Promise<Result> {
  return runNimbo(fake.url, fake.token, home, args, env, stdin);
}

before(() => fake.start());
after(async () => {
  await fake.stop();
  rmSync(home, { recursive: true, force: true });
});

test('info -o json prints the Instance as the API gives it', async () => {
  const r = await nimbo(['info', 'vm1', '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), fake.instances[0]);
});

test('list table, yaml, and the ls alias', async () => {
  const t = await nimbo(['ls']);
  assert.match(t.stdout, /^NAME\s+TYPE\s+STATE\s+IMAGE\s+CPUS\s+MEMORY\s+DISK\s+ADDRESSES\s+AGE\nvm1\s+vm\s+running\s+tiny\s+2\s+512MiB\s+10GiB\s+10\.77\.0\.10, fd00::10/);
  const y = await nimbo(['list', '-o', 'yaml']);
  assert.match(y.stdout, /^- id: 6f1c2a3e-0000-4000-8000-000000000001\n  name: vm1\n/);
});

test('errors are one line on stderr with their exit code', async () => {
  const r = await nimbo(['info', 'ghost']);
  assert.equal(r.code, 3);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, 'nimbo: error: instance ghost not found\n');
  const u = await nimbo(['list', '-o', 'xml']);
  assert.equal(u.code, 2);
  assert.match(u.stderr, /^nimbo: error: option '-o, --output <format>' argument 'xml' is invalid\. Allowed choices are table, json, yaml\.\n$/);
  const port = await freePort();
  const d = await nimbo(['list'], { NIMBO_URL: `http://127.0.0.1:${port}` });
  assert.equal(d.stderr, `nimbo: error: cannot reach nimbod at http://127.0.0.1:${port} (is it running? try: ./nimbo up)\n`);
  assert.equal(d.code, 5);
  const a = await nimbo(['list'], { NIMBO_TOKEN: 'wrong' });
  assert.equal(a.code, 6, a.stderr);
  const c = await nimbo(['launch', 'tiny', 'vm1', '-q']);
  assert.equal(c.code, 4, c.stderr);
});

test('extra arguments are refused before any request (exit 2)', async () => {
  const before = fake.seen.length;
  for (const args of [['info', 'vm1', 'extra'], ['list', 'x'], ['operation', 'list', 'x']]) {
    const r = await nimbo(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /too many arguments/);
  }
  assert.equal(fake.seen.length, before);
});

test('stop/start/delete take many names: a line each, non-zero if any failed', async () => {
  const r = await nimbo(['stop', 'vm1', 'ghost', 'vm1', '-q']);
  assert.equal(r.code, 3);
  assert.equal(r.stderr, 'nimbo: error: ghost: instance ghost not found\n');
  assert.equal(fake.seen.filter((s) => s.method === 'POST' && s.path === '/api/v1/instances/vm1/stop').length >= 2, true);
  const s = await nimbo(['start', 'vm1', 'vm1']);
  assert.equal(s.code, 0, s.stderr);
  assert.equal(s.stdout, 'Started vm1\nStarted vm1\n');
  const d = await nimbo(['delete', 'vm1', 'vm1', '--force', '--no-wait']);
  assert.equal(d.code, 0, d.stderr);
  assert.match(d.stdout, /^op-\d+\nop-\d+\n$/);
});

test('pause, resume and start do not offer --force/--timeout; stop and restart do', async () => {
  for (const a of ['pause', 'resume', 'start']) {
    const r = await nimbo([a, 'vm1', '--force']);
    assert.equal(r.code, 2, `${a}: ${r.stderr}`);
    assert.match(r.stderr, /unknown option '--force'/);
    assert.doesNotMatch((await nimbo([a, '--help'])).stdout, /--timeout/);
  }
  assert.match((await nimbo(['restart', '--help'])).stdout, /--timeout/);
});

test('delete of a running instance without --force says what to do', async () => {
  fake.deleteConflict = true;
  try {
    const before = fake.ops.size;
    const r = await nimbo(['delete', 'vm1']);
    assert.equal(r.code, 4);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'nimbo: error: instance vm1 is running; stop it first (nimbo stop vm1) or pass --force\n');
    assert.equal(fake.ops.size, before, 'a refused delete starts nothing');
    // Among many names the refusal names the instance, and the others still go.
    const m = await nimbo(['delete', 'vm1', 'ghost', '-q']);
    assert.equal(m.code, 4);
    assert.equal(m.stderr, 'nimbo: error: vm1: instance vm1 is running; stop it first (nimbo stop vm1) or pass --force\nnimbo: error: ghost: instance ghost not found\n');
  } finally {
    fake.deleteConflict = false;
  }
});

test('the help epilogue lists the exit codes', async () => {
  const r = await nimbo(['--help']);
  assert.match(r.stdout, /Exit codes: 0 ok, 1 failure, 2 invalid input or usage, 3 not found, 4 conflict .*5 nimbod unreachable, 6 authentication/);
});

test('bad arguments are caught before any request', async () => {
  const before = fake.seen.length;
  const m = await nimbo(['launch', 'tiny', 'vm2', '--memory', '512']);
  assert.equal(m.code, 2);
  assert.match(m.stderr, /^nimbo: error: .*memory "512" is only 512 bytes; add a unit, e\.g\. 512MiB\n$/);
  const n = await nimbo(['launch', 'tiny', 'Bad_Name']);
  assert.match(n.stderr, /invalid instance name "Bad_Name"/);
  const c = await nimbo(['launch', 'tiny', 'vm2', '--cpus', '0']);
  assert.match(c.stderr, /--cpus must be a whole number from 1 to 64/);
  assert.equal(fake.seen.length, before);
});

test('launch follows the operation with plain progress lines when not a TTY', async () => {
  const r = await nimbo(['launch', 'tiny', 'web', '--memory', '1GiB', '--no-start']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, 'progress 0%\nstep to 50%\nprogress 50%\nstep to 100%\nprogress 100%\n');
  assert.match(r.stdout, /^Created web \(stopped, 10\.77\.0\.10, fd00::10\)\n$/);
  const create = fake.seen.filter((s) => s.method === 'POST' && s.path === '/api/v1/instances').at(-1);
  assert.deepEqual(create?.body, { name: 'web', image: 'tiny', memory: '1GiB', start: false });
});

test('--no-wait prints the operation id; --quiet prints nothing', async () => {
  const r = await nimbo(['stop', 'vm1', '--no-wait', '--force']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^op-\d+\n$/);
  const q = await nimbo(['restart', 'vm1', '-q']);
  assert.deepEqual([q.code, q.stdout, q.stderr], [0, '', '']);
});

test('a failed operation exits 1 with its error message', async () => {
  fake.finalStatus = 'failure';
  try {
    const r = await nimbo(['delete', 'vm1', '--force', '-q']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'nimbo: error: qemu-img failed (exit 1): no space left on device\n');
    assert.equal(fake.seen.filter((s) => s.method === 'DELETE').at(-1)?.query.get('force'), 'true');
  } finally {
    fake.finalStatus = 'success';
  }
});

test('image import sends an absolute path', async () => {
  const file = join(home, 'disk.qcow2');
  writeFileSync(file, 'x');
  const p = spawn(process.execPath, ['--input-type=module', '-e', HARNESS, 'nimbo', 'image', 'import', 'disk.qcow2', '--name', 'disk', '-q'], {
    cwd: home,
    env: { PATH: process.env.PATH ?? '', HOME: home, NIMBO_URL: fake.url, NIMBO_TOKEN: fake.token },
  });
  const code = await new Promise((r) => p.on('close', r));
  assert.equal(code, 0);
  assert.deepEqual(fake.seen.find((s) => s.path === '/api/v1/images/import')?.body, { name: 'disk', path: file });
  const missing = await nimbo(['image', 'import', '/nonexistent/x.qcow2', '--name', 'x']);
  assert.equal(missing.stderr, 'nimbo: error: /nonexistent/x.qcow2: no such file\n');
  const arm = await nimbo(['image', 'import', file, '--name', 'arm', '--arch', 'aarch64', '-q']);
  assert.equal(arm.code, 0, arm.stderr);
  assert.deepEqual(fake.seen.filter((s) => s.path === '/api/v1/images/import').at(-1)?.body, { name: 'arm', path: file, arch: 'aarch64' });
  const bad = await nimbo(['image', 'import', file, '--name', 'x', '--arch', 'sparc']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--arch <arch>' argument 'sparc' is invalid\. Allowed choices are x86_64, aarch64, riscv64/);
});

test('image upload streams the file with its Content-Length and shows progress on stderr', async () => {
  const file = join(home, 'up.qcow2');
  writeFileSync(file, Buffer.alloc(300_000, 7));
  const r = await nimbo(['image', 'upload', file, '--name', 'up']);
  assert.equal(r.code, 0, r.stderr);
  const seen = fake.seen.find((s) => s.path === '/api/v1/images/upload');
  assert.equal(seen?.query.get('name'), 'up');
  assert.equal(seen?.query.get('arch'), null, 'no --arch, no ?arch=');
  assert.deepEqual(seen?.body, { bytes: 300_000, contentLength: '300000' });
  assert.match(r.stderr, /uploading: 100% \(293KiB of 293KiB\)\n/);
  assert.match(r.stdout, /Uploaded image up from /);
  const missing = await nimbo(['image', 'upload', '/nonexistent/x.qcow2', '--name', 'x']);
  assert.equal(missing.stderr, 'nimbo: error: /nonexistent/x.qcow2: no such file\n');
});

test('doctor exits non-zero when a check fails', async () => {
  fake.host = {
    hostname: 'h', version: '0.1.0', accelerator: 'tcg', acceleratorReason: 'no /dev/kvm', kernel: '6.1', cpus: 4, memory: 2 ** 33,
    stateDir: '/var/lib/nimbo', prefix: 'nimbo', network: { name: 'default', bridge: 'nimbo0', subnet: '10.77.0.0/24', gateway: '10.77.0.1' },
    checks: [{ name: 'qemu', ok: true, detail: 'qemu-system-x86_64 8.2' }, { name: 'nft', ok: false, detail: 'nft not found' }],
  };
  const r = await nimbo(['doctor']);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^Accelerator: tcg \(no \/dev\/kvm\)\nCHECK\s+OK\s+DETAIL\nqemu\s+ok\s+qemu-system-x86_64 8\.2\nnft\s+FAIL\s+nft not found\n$/);
  assert.equal(r.stderr, 'nimbo: error: 1 host check failed: nft\n');
  const h = await nimbo(['host', 'info', '-o', 'json']);
  assert.deepEqual(JSON.parse(h.stdout), fake.host);
});

test('console --log prints the recent output; piped console round-trips', async () => {
  const l = await nimbo(['console', 'vm1', '--log', '--bytes', '64']);
  assert.equal(l.stdout, 'last 64 bytes\n');
  const c = await nimbo(['console', 'vm1'], {}, 'uname\n');
  assert.equal(c.code, 0, c.stderr);
  assert.equal(c.stdout, 'boot log tail\necho:uname\n');
});

test('main.js wires the lifecycle commands', async () => {
  const main = fileURLToPath(new URL('./main.js', import.meta.url));
  const r = await new Promise<Result>((resolve) => {
    const p = spawn(process.execPath, [main, '--help']);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /launch \[options\] <image> <name>/);
  assert.match(r.stdout, /\bup\b/);
});

test('version shows client, server and API versions, and works without a daemon', async () => {
  fake.host = { ...(fake.host ?? {}), version: '9.8.7' } as typeof fake.host;
  const r = await nimbo(['version']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Client version:\s+\d+\.\d+\.\d+\S*\nServer version:\s+9\.8\.7\nAPI version:\s+v1\n$/);
  const port = await freePort();
  const d = await nimbo(['version', '-o', 'json'], { NIMBO_URL: `http://127.0.0.1:${port}` });
  assert.equal(d.code, 0, d.stderr);
  const j = JSON.parse(d.stdout) as { client: string; server?: string; api: string; serverError: string };
  assert.equal(j.server, undefined);
  assert.equal(j.api, 'v1');
  assert.match(j.serverError, /cannot reach nimbod/);
});

test('operation show|wait|cancel take a unique id prefix; an ambiguous one lists the candidates', async () => {
  for (const id of ['3f2a0000-1111', '3f2b0000-2222']) {
    const op = fake.newOp('instance.stop', 'vm1');
    fake.ops.delete(op.id);
    fake.ops.set(id, { ...op, id });
  }
  const s = await nimbo(['operation', 'show', '3f2a', '-o', 'json']);
  assert.equal(s.code, 0, s.stderr);
  assert.equal((JSON.parse(s.stdout) as { id: string }).id, '3f2a0000-1111');
  const a = await nimbo(['operation', 'wait', '3f2', '-q']);
  assert.equal(a.code, 2);
  assert.equal(a.stderr, 'nimbo: error: operation id prefix 3f2 is ambiguous: it matches 3f2a0000-1111, 3f2b0000-2222\n');
  const c = await nimbo(['operation', 'cancel', '3f2b']);
  assert.equal(c.code, 0, c.stderr);
  assert.equal(fake.seen.filter((r) => r.method === 'DELETE').at(-1)?.path, '/api/v1/operations/3f2b0000-2222');
  const n = await nimbo(['operation', 'show', 'zzz']);
  assert.equal(n.code, 3);
  assert.equal(n.stderr, 'nimbo: error: operation zzz not found\n');
});

test('--project and $NIMBO_PROJECT are sent as ?project= on every request; the option wins over the variable', async () => {
  const lastProject = () => fake.seen.filter((s) => s.path.startsWith('/api/v1/instances')).at(-1)?.query.get('project') ?? null;
  assert.equal((await nimbo(['--project', 'acme', 'list'])).code, 0);
  assert.equal(lastProject(), 'acme');
  assert.equal((await nimbo(['info', 'vm1'], { NIMBO_PROJECT: 'umbrella' })).code, 0);
  assert.equal(lastProject(), 'umbrella');
  assert.equal((await nimbo(['--project', 'acme', 'info', 'vm1'], { NIMBO_PROJECT: 'umbrella' })).code, 0);
  assert.equal(lastProject(), 'acme');
  assert.equal((await nimbo(['list'])).code, 0);
  assert.equal(lastProject(), null, 'none given: none sent (the daemon picks the token or user project)');
});
