import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { NimboError } from '../../../lib/errors.js';
import type { ExecOptions as HostExecOptions, ExecResult, HostExec } from '../../../host/exec.js';
import { PTY_HELPER, ptyHelperArgs } from './pty-helper.js';
import { resizeExec, RuncDriver, runtimeMessage, signalNumber } from './runc-driver.js';

const ROOT = '/run/nimbo-test/runc';
const err = (msg: string): ExecResult => ({ code: 1, stdout: '', stderr: `time="2026-01-01T00:00:00Z" level=error msg="${msg}"\n` });
const ok = (stdout = ''): ExecResult => ({ code: 0, stdout, stderr: '' });
const stateJson = (status: string, pid = 4242) =>
  ok(JSON.stringify({ ociVersion: '1.0.2-dev', id: 'c1', pid: status === 'stopped' ? 0 : pid, status, bundle: '/b/c1', rootfs: '/b/c1/rootfs', owner: '' }));

/** A HostExec that answers from a handler and records every argv (without the runtime/root prefix). */
class FakeExec implements HostExec {
  calls: { argv: string[]; opts?: HostExecOptions }[] = [];
  constructor(private readonly handler: (args: string[], opts?: HostExecOptions) => ExecResult) {}
  async run(argv: string[], opts?: HostExecOptions): Promise<ExecResult> {
    this.calls.push({ argv, opts });
    const res = this.handler(argv.slice(3), opts);
    if (res.code !== 0 && !opts?.allowFailure) throw new Error(`unexpected failure of ${argv.join(' ')}`);
    return res;
  }
  /** Subcommands run, e.g. ['state c1', 'kill c1 15']. */
  get ran(): string[] {
    return this.calls.map((c) => c.argv.slice(3).join(' '));
  }
}

/** A fake container whose status the test controls; answers state/kill/pause/... like runc. */
function fakeRunc(initial: string) {
  const c = { status: initial, stopOn: new Set<number>() };
  const exec = new FakeExec((args) => {
    const [cmd, ...rest] = args;
    const id = rest.at(-1);
    if (c.status === 'absent' && cmd !== 'list') return err('container does not exist');
    switch (cmd) {
      case 'state':
        return stateJson(c.status);
      case 'kill': {
        if (c.status === 'stopped') return err('container not running');
        if (c.stopOn.has(Number(rest[1]))) c.status = 'stopped';
        return ok();
      }
      case 'resume':
        if (c.status !== 'paused') return err('container not paused');
        c.status = 'running';
        return ok();
      case 'pause':
        if (c.status !== 'running') return err('container not running');
        c.status = 'paused';
        return ok();
      case 'start':
        if (c.status !== 'created') return err(`cannot start an already ${c.status} container`);
        c.status = 'running';
        return ok();
      case 'delete':
        if (rest[0] !== '--force' && c.status !== 'stopped') return err(`cannot delete container ${id} that is not stopped: ${c.status}`);
        c.status = 'absent';
        return ok();
      default:
        return ok();
    }
  });
  return { c, exec, driver: new RuncDriver({ exec, root: ROOT, pollMs: 5 }) };
}

const isCode = (code: string, re?: RegExp) => (e: unknown) => e instanceof NimboError && e.code === code && (!re || re.test(e.message));

test('state: parses runc state JSON; absent for unknown ids; pausing counts as paused', async () => {
  const exec = new FakeExec((args) => (args[1] === 'c1' ? stateJson('running') : args[1] === 'c2' ? stateJson('pausing') : args[1] === 'c3' ? stateJson('stopped') : err('container does not exist')));
  const d = new RuncDriver({ exec, runtime: '/usr/local/bin/crun', root: ROOT });
  assert.deepEqual(await d.state('c1'), { status: 'running', pid: 4242, bundle: '/b/c1' });
  assert.equal((await d.state('c2')).status, 'paused');
  assert.deepEqual(await d.state('c3'), { status: 'stopped', pid: 0, bundle: '/b/c1' });
  assert.deepEqual(await d.state('nope'), { status: 'absent', pid: 0 });
  assert.deepEqual(exec.calls[0]!.argv, ['/usr/local/bin/crun', '--root', ROOT, 'state', 'c1']);
});

test('state: other runtime failures and bad ids are errors, not "absent"', async () => {
  const d = new RuncDriver({ exec: new FakeExec(() => err('permission denied')), root: ROOT });
  await assert.rejects(d.state('c1'), isCode('HostCommandFailed'));
  await assert.rejects(d.state('--help'), isCode('InvalidArgument'));
  await assert.rejects(d.state('../x'), isCode('InvalidArgument'));
  assert.throws(() => new RuncDriver({ exec: new FakeExec(() => ok()), root: 'run/runc' }), isCode('InvalidArgument'));
});

test('signalNumber: names, short names, numbers, systemd real-time signals', () => {
  assert.equal(signalNumber('SIGTERM'), 15);
  assert.equal(signalNumber('term'), 15);
  assert.equal(signalNumber('SIGUSR2'), 12);
  assert.equal(signalNumber(9), 9);
  assert.equal(signalNumber('9'), 9);
  assert.equal(signalNumber('SIGRTMIN+4'), 38);
  assert.equal(signalNumber('RTMIN+3'), 37);
  assert.equal(signalNumber('SIGRTMAX'), 64);
  for (const bad of ['SIGNOPE', 0, 65, 'RTMIN+40', '']) assert.throws(() => signalNumber(bad), isCode('InvalidArgument'));
});

test('runtimeMessage: the last msg="..." of runc, unescaped; plain stderr otherwise', () => {
  assert.equal(runtimeMessage('time="x" level=warning msg="a"\ntime="y" level=error msg="exec failed: \\"sh\\" not found"\n'), 'exec failed: "sh" not found');
  assert.equal(runtimeMessage('crun: container `c1` does not exist\n'), 'crun: container `c1` does not exist');
});

test('kill: numeric signal to runc; NotFound / Conflict from the runtime message', async () => {
  const { driver, exec, c } = fakeRunc('running');
  await driver.kill('c1', 'SIGRTMIN+4');
  assert.deepEqual(exec.ran, ['kill c1 38']);
  c.status = 'stopped';
  await assert.rejects(driver.kill('c1'), isCode('Conflict', /not running/));
  c.status = 'absent';
  await assert.rejects(driver.kill('c1'), isCode('NotFound', /container c1 not found/));
});

test('stop: graceful when init exits on the signal', async () => {
  const { driver, exec, c } = fakeRunc('running');
  c.stopOn.add(12);
  assert.deepEqual(await driver.stop('c1', { signal: 'SIGUSR2', timeoutMs: 1000 }), { forced: false });
  assert.deepEqual(exec.ran, ['state c1', 'kill c1 12', 'state c1']);
});

test('stop: SIGKILL after the timeout', async () => {
  const { driver, exec, c } = fakeRunc('running');
  c.stopOn.add(9);
  const t0 = Date.now();
  assert.deepEqual(await driver.stop('c1', { timeoutMs: 60 }), { forced: true });
  assert.ok(Date.now() - t0 >= 60);
  assert.deepEqual(exec.ran.filter((r) => r.startsWith('kill')), ['kill c1 15', 'kill c1 9']);
});

test('stop: a paused container is resumed first; stopped is a no-op; absent is NotFound', async () => {
  const paused = fakeRunc('paused');
  paused.c.stopOn.add(15);
  assert.deepEqual(await paused.driver.stop('c1'), { forced: false });
  assert.deepEqual(paused.exec.ran.slice(0, 3), ['state c1', 'resume c1', 'kill c1 15']);
  const stopped = fakeRunc('stopped');
  assert.deepEqual(await stopped.driver.stop('c1'), { forced: false });
  assert.deepEqual(stopped.exec.ran, ['state c1']);
  await assert.rejects(fakeRunc('absent').driver.stop('c1'), isCode('NotFound'));
});

test('stop: a container that stops between state and kill counts as stopped', async () => {
  const { driver, c, exec } = fakeRunc('running');
  const orig = exec.run.bind(exec);
  exec.run = async (argv, opts) => {
    if (argv[3] === 'kill') c.status = 'stopped';
    return orig(argv, opts);
  };
  assert.deepEqual(await driver.stop('c1'), { forced: false });
});

test('pause/resume/delete/start: state errors become Conflict, unknown ids NotFound', async () => {
  const { driver, exec, c } = fakeRunc('running');
  await driver.pause('c1');
  await assert.rejects(driver.pause('c1'), isCode('Conflict'));
  await driver.resume('c1');
  await assert.rejects(driver.resume('c1'), isCode('Conflict', /not paused/));
  await assert.rejects(driver.start('c1'), isCode('Conflict', /is running, not created/));
  await assert.rejects(driver.delete('c1'), isCode('Conflict', /not stopped/));
  await driver.delete('c1', true);
  assert.ok(exec.ran.includes('delete --force c1'));
  assert.equal(c.status, 'absent');
  await assert.rejects(driver.delete('c1'), isCode('NotFound'));
  await assert.rejects(driver.start('c1'), isCode('NotFound'));
  await assert.rejects(driver.stats('c1'), isCode('NotFound'));
});

test('exec: flags, stdin, exit code passed through; runc start failures mapped like a shell', async () => {
  let next: ExecResult = { code: 7, stdout: 'out', stderr: '' };
  const exec = new FakeExec((args) => (args[0] === 'state' ? stateJson('running') : next));
  const d = new RuncDriver({ exec, root: ROOT });
  const res = await d.exec('c1', ['sh', '-c', 'exit 7'], { env: ['A=1', 'B=x y'], cwd: '/srv', uid: 1000, gid: 100, input: 'hi' });
  assert.deepEqual(res, { code: 7, stdout: 'out', stderr: '' });
  const call = exec.calls[1]!;
  assert.deepEqual(call.argv, ['runc', '--root', ROOT, 'exec', '--env', 'A=1', '--env', 'B=x y', '--cwd', '/srv', '--user', '1000:100', 'c1', 'sh', '-c', 'exit 7']);
  assert.equal(call.opts?.input, 'hi');
  assert.ok(call.opts?.signal instanceof AbortSignal);
  next = { code: 255, stdout: '', stderr: 'time="x" level=error msg="exec failed: unable to start container process: exec: \\"nope\\": executable file not found in $PATH"\n' };
  assert.equal((await d.exec('c1', ['nope'])).code, 127);
  next = { code: 255, stdout: '', stderr: 'time="x" level=error msg="exec failed: unable to start container process: exec: \\"/etc\\": permission denied"\n' };
  assert.equal((await d.exec('c1', ['/etc'])).code, 126);
  next = { code: 255, stdout: '', stderr: 'my own program failed\n' };
  assert.equal((await d.exec('c1', ['prog'])).code, 255);
});

test('exec: wrong state, bad input', async () => {
  const { driver } = fakeRunc('paused');
  await assert.rejects(driver.exec('c1', ['true']), isCode('Conflict', /paused, not running/));
  await assert.rejects(driver.exec('c1', []), isCode('InvalidArgument'));
  await assert.rejects(driver.exec('c1', ['true'], { env: ['NOEQUALS'] }), isCode('InvalidArgument'));
  await assert.rejects(driver.exec('c1', ['true'], { cwd: 'rel' }), isCode('InvalidArgument'));
  await assert.rejects(driver.exec('c1', ['true'], { gid: 5 }), isCode('InvalidArgument', /gid needs uid/));
  await assert.rejects(fakeRunc('absent').driver.exec('c1', ['true']), isCode('NotFound'));
});

test('exec: an aborted exec is a Timeout error; a runtime that cannot be spawned is not', async () => {
  const exec = new FakeExec(() => stateJson('running'));
  exec.run = async (argv, opts) => {
    if (argv[3] === 'state') return stateJson('running');
    if (argv.includes('sleep')) await new Promise((r) => opts?.signal?.addEventListener('abort', r));
    throw new Error('spawn failed');
  };
  const d = new RuncDriver({ exec, root: ROOT });
  const keepAlive = setTimeout(() => {}, 5000); // AbortSignal.timeout does not hold the event loop (the real HostExec's timer does)
  await assert.rejects(d.exec('c1', ['sleep', '100'], { timeoutMs: 10 }), isCode('Timeout'));
  clearTimeout(keepAlive);
  await assert.rejects(d.exec('c1', ['true']), /spawn failed/);
});

test('stats: runc events --stats JSON', async () => {
  const data = { cpu: { usage: { total: 18568622 } }, memory: { usage: { limit: 33554432, usage: 1409024 } }, pids: { current: 3, limit: 20 } };
  const exec = new FakeExec(() => ok(`${JSON.stringify({ type: 'stats', id: 'c1', data })}\n`));
  const d = new RuncDriver({ exec, root: ROOT });
  assert.deepEqual(await d.stats('c1'), { cpuNs: 18568622, memoryBytes: 1409024, memoryLimitBytes: 33554432, pids: 3, pidsLimit: 20 });
  assert.deepEqual(exec.ran, ['events --stats c1']);
});

test('list: ids sorted; "null" is empty; a missing root is empty without creating it', async () => {
  const dir = mkdtempSync('/tmp/rcx-unit-');
  try {
    let out = 'null';
    const exec = new FakeExec(() => ok(out));
    const d = new RuncDriver({ exec, root: dir });
    assert.deepEqual(await d.list(), []);
    out = JSON.stringify([{ id: 'b', status: 'running' }, { id: 'a', status: 'stopped' }]);
    assert.deepEqual(await d.list(), ['a', 'b']);
    assert.deepEqual(exec.calls[0]!.argv, ['runc', '--root', dir, 'list', '--format', 'json']);
    const missing = new RuncDriver({ exec, root: join(dir, 'none') });
    const n = exec.calls.length;
    assert.deepEqual(await missing.list(), []);
    assert.equal(exec.calls.length, n);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A spawn stand-in: records the call, writes `write` to the stdout fd, exits with `code`. */
function fakeSpawn(code: number, write = '') {
  const calls: { cmd: string; args: string[]; opts: SpawnOptions }[] = [];
  const fn = (cmd: string, args: string[], opts: SpawnOptions): ChildProcess => {
    calls.push({ cmd, args, opts });
    const child = new EventEmitter() as ChildProcess;
    Object.assign(child, { kill: () => true, stdio: [null, null, null, new PassThrough()] });
    const fd = Array.isArray(opts.stdio) ? opts.stdio[1] : undefined;
    if (write && typeof fd === 'number') writeSync(fd, write);
    setImmediate(() => child.emit('exit', code, null));
    return child;
  };
  return { calls, fn };
}

test('create: runc create detached with init stdio on the log file (appended), then start', async () => {
  const dir = mkdtempSync('/tmp/rcx-unit-');
  try {
    writeFileSync(join(dir, 'config.json'), '{}');
    const logPath = join(dir, 'c1.log');
    writeFileSync(logPath, 'earlier\n');
    let status = 'absent';
    const exec = new FakeExec((args) => {
      if (args[0] === 'start') status = 'running';
      return status === 'absent' ? err('container does not exist') : stateJson(status);
    });
    const sp = fakeSpawn(0, 'init says hi\n');
    const d = new RuncDriver({
      exec,
      root: join(dir, 'root'),
      spawn: (cmd, args, opts) => {
        status = 'created'; // what `runc create` leaves behind: a state directory under its root
        mkdirSync(join(dir, 'root', 'c1'), { recursive: true });
        return sp.fn(cmd, args, opts);
      },
    });
    assert.deepEqual(await d.create('c1', dir, { stdoutPath: logPath }), { status: 'running', pid: 4242, bundle: '/b/c1' });
    assert.equal(sp.calls.length, 1);
    const call = sp.calls[0]!;
    assert.equal(call.cmd, 'runc');
    assert.deepEqual(call.args, ['--root', join(dir, 'root'), 'create', '--bundle', dir, 'c1']);
    assert.equal(call.opts.detached, true);
    const stdio = call.opts.stdio as unknown[];
    assert.equal(stdio[0], 'ignore');
    assert.equal(typeof stdio[1], 'number');
    assert.equal(stdio[1], stdio[2]);
    assert.equal(readFileSync(logPath, 'utf8'), 'earlier\ninit says hi\n');
    assert.deepEqual(exec.ran, ['state c1', 'start c1', 'state c1']);
    // Already there -> Conflict; missing config.json -> InvalidArgument.
    await assert.rejects(d.create('c1', dir, { stdoutPath: logPath }), isCode('Conflict', /already exists \(running\)/));
    await assert.rejects(d.create('c1', join(dir, 'nobundle'), { stdoutPath: logPath }), isCode('InvalidArgument', /config.json does not exist/));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('create: start: false leaves it created; a failed create reports runc\'s error and cleans up', async () => {
  const dir = mkdtempSync('/tmp/rcx-unit-');
  try {
    writeFileSync(join(dir, 'config.json'), '{}');
    const logPath = join(dir, 'c1.log');
    let status = 'absent';
    const exec = new FakeExec((args) => (args[0] === 'delete' ? ok() : status === 'absent' ? err('container does not exist') : stateJson(status)));
    const okSpawn = fakeSpawn(0);
    const d = new RuncDriver({
      exec,
      root: join(dir, 'root'),
      spawn: (c, a, o) => {
        status = 'created';
        mkdirSync(join(dir, 'root', 'c1'), { recursive: true });
        return okSpawn.fn(c, a, o);
      },
    });
    assert.equal((await d.create('c1', dir, { stdoutPath: logPath, start: false })).status, 'created');
    assert.ok(!exec.ran.includes('start c1'));

    status = 'absent';
    exec.calls = [];
    const bad = fakeSpawn(1, 'time="x" level=error msg="runc create failed: unable to start container process: mount denied"\n');
    const d2 = new RuncDriver({ exec, root: join(dir, 'root'), spawn: bad.fn });
    await assert.rejects(d2.create('c1', dir, { stdoutPath: logPath }), isCode('HostCommandFailed', /mount denied/));
    assert.deepEqual(exec.ran, ['state c1', 'delete --force c1']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('execSpawn: plain pipes, or the pty helper with the runc argv after it; resizeExec writes fd 3', async () => {
  const sp = fakeSpawn(0);
  const exec = new FakeExec(() => stateJson('running'));
  const d = new RuncDriver({ exec, root: ROOT, spawn: sp.fn, python: '/usr/bin/python3' });
  await d.execSpawn('c1', ['cat'], { tty: false, env: ['A=1'] });
  assert.equal(sp.calls[0]!.cmd, 'runc');
  assert.deepEqual(sp.calls[0]!.args, ['--root', ROOT, 'exec', '--env', 'A=1', 'c1', 'cat']);
  const child = await d.execSpawn('c1', ['/bin/sh', '-l'], { tty: true, rows: 30, cols: 100, uid: 0 });
  assert.equal(sp.calls[1]!.cmd, '/usr/bin/python3');
  // runc writes a pid file once the process runs; the helper holds input until then (NIMBO_PTY_HOLD).
  const pidFile = (sp.calls[1]!.opts.env as NodeJS.ProcessEnv).NIMBO_PTY_HOLD!;
  assert.match(pidFile, /\/nimbo-exec-\d+-[0-9a-f]{12}\.pid$/);
  assert.deepEqual(sp.calls[1]!.args, ptyHelperArgs(30, 100, ['runc', '--root', ROOT, 'exec', '-t', '--pid-file', pidFile, '--env', 'TERM=xterm-256color', '--user', '0', 'c1', '/bin/sh', '-l']));
  assert.deepEqual(sp.calls[1]!.opts.stdio, ['pipe', 'pipe', 'pipe', 'pipe']);
  await d.execSpawn('c1', ['sh'], { tty: true, env: ['TERM=vt100'] });
  assert.deepEqual(sp.calls[2]!.args.slice(-4), ['--env', 'TERM=vt100', 'c1', 'sh']);
  assert.deepEqual(sp.calls[2]!.args.slice(-8, -5), ['exec', '-t', '--pid-file']);
  const ctl = child.stdio[3] as PassThrough;
  resizeExec(child, 50, 132);
  assert.equal(ctl.read()?.toString(), '50 132\n');
  assert.throws(() => resizeExec(child, 0, 80), isCode('InvalidArgument'));
  await assert.rejects(d.execSpawn('c1', ['sh'], { tty: true, rows: 70000 }), isCode('InvalidArgument'));
  await assert.rejects(fakeRunc('stopped').driver.execSpawn('c1', ['sh'], { tty: true }), isCode('Conflict'));
});

const python = spawnSync('python3', ['-c', 'import pty'], { stdio: 'ignore' }).status === 0;

test('pty helper (host only, no container): a real pty, its size, resize, input, exit code', { skip: python ? false : 'needs python3', timeout: 20_000 }, async () => {
  const child = spawn('python3', ptyHelperArgs(30, 100, ['/bin/sh', '-c', 'tty; stty size; read x; stty size; echo "got $x"; exit 3']), {
    stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => {
    out += b.toString();
  });
  const until = async (re: RegExp) => {
    for (let i = 0; i < 200 && !re.test(out); i++) await new Promise((r) => setTimeout(r, 25));
    assert.match(out, re);
  };
  await until(/30 100\n/);
  resizeExec(child, 50, 132);
  await new Promise((r) => setTimeout(r, 100)); // the resize line and the input travel on different fds
  child.stdin!.write('hello\n'); // raw pty: no CR->NL translation, no echo
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  assert.equal(out, `${/^\/dev\/pts\/\d+\n/.exec(out)?.[0] ?? 'a pts path\n'}30 100\n50 132\ngot hello\n`);
  assert.equal(code, 3);
  assert.ok(PTY_HELPER.includes('TIOCSWINSZ'));
});

test('state: no directory for the id under an existing root means absent, without running the runtime', async () => {
  const dir = mkdtempSync('/tmp/rcx-unit-');
  try {
    const exec = new FakeExec(() => stateJson('running'));
    const d = new RuncDriver({ exec, root: dir });
    assert.deepEqual(await d.state('c1'), { status: 'absent', pid: 0 });
    assert.deepEqual(exec.ran, []);
    mkdirSync(join(dir, 'c1'));
    assert.equal((await d.state('c1')).status, 'running');
    assert.deepEqual(exec.ran, ['state c1']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
