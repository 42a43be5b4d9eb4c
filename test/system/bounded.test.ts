import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { FrameDecoder } from '../../src/shared/exec-frames.js';
import { ROOT, TestDaemon, sleep, systemSkipReason } from './harness.js';
import { busyboxLayout, percentile, removeDir, rssOf, watchDaemon } from './busybox-app.js';

const skip = systemSkipReason() ?? (existsSync('/usr/sbin/runc') && existsSync('/usr/bin/umoci') ? undefined : 'runc and umoci are needed (run scripts/setup.sh)');
const MiB = 1024 * 1024;
/** How much the daemon may grow while it streams hundreds of MiB (its own buffers, not the data). */
const RSS_BOUND = 64 * MiB;

describe('bounded output: exec, file pulls and container logs (runc)', { skip }, () => {
  let d: TestDaemon;
  let work: string;
  const run = async (...args: string[]) => {
    const r = await d.cli(...args);
    assert.equal(r.code, 0, `nimbo ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    d = await TestDaemon.start();
    work = await busyboxLayout();
    await run('image', 'import', join(work, 'layout'), '--name', 'bb', '--quiet');
    await run('launch', 'bb', 'b1', '--app', '--memory', '128MiB', '--quiet');
  });
  after(async () => {
    await d?.cleanup();
    removeDir(work);
  });

  test('a 300 MB exec output: capped JSON, whole through the stream and the CLI, the daemon stays small and answers', async (t) => {
    const size = 300 * MiB;
    const cmd = ['sh', '-c', `yes 0123456789abcdef | head -c ${size}; echo tail >&2; exit 3`];
    const base = rssOf(d.proc!.pid!);
    const watch = watchDaemon(d);
    // JSON: at most 1 MiB of stdout, said to be truncated; the exit code and stderr are exact.
    const json = await d.api('POST', '/instances/b1/exec', { command: cmd, timeout: 600 });
    assert.equal(json.status, 200, JSON.stringify(json.body).slice(0, 300));
    assert.equal(json.body.exitCode, 3);
    assert.equal(json.body.truncated, true);
    assert.equal(json.body.stdout.length, MiB);
    assert.equal(json.body.stderr, 'tail\n');
    // The stream: every byte, read here at our own pace.
    const res = await fetch(`${d.url}/api/v1/instances/b1/exec?stream=1`, {
      method: 'POST',
      headers: { authorization: `Bearer ${d.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ command: cmd, timeout: 600 }),
    });
    assert.equal(res.status, 200);
    let out = 0;
    let err = '';
    let code = -1;
    const dec = new FrameDecoder({ stdout: (b) => (out += b.length), stderr: (b) => (err += b.toString()), exit: (c) => (code = c) });
    for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) dec.push(Buffer.from(c));
    assert.deepEqual([out, err, code], [size, 'tail\n', 3]);
    // The CLI streams too: all of it lands in the file, and the exit code comes back.
    const file = join(work, 'exec.out');
    const fd = openSync(file, 'w');
    const cli = spawn(process.execPath, [join(ROOT, 'dist/src/cli/main.js'), 'exec', 'b1', '--timeout', '600', '--', ...cmd], {
      stdio: ['ignore', fd, 'pipe'],
      env: { ...process.env, NIMBO_URL: d.url, NIMBO_TOKEN: d.token },
    });
    let cliErr = '';
    cli.stderr!.on('data', (b: Buffer) => (cliErr += b.toString()));
    const cliCode = await new Promise<number | null>((r) => cli.on('close', r));
    closeSync(fd);
    assert.equal(cliCode, 3, cliErr);
    assert.equal(statSync(file).size, size);
    rmSync(file);
    const w = await watch.stop();
    const grew = w.peakRss - base;
    t.diagnostic(`RSS growth ${(grew / MiB).toFixed(1)} MiB; /health max ${Math.max(...w.latencies).toFixed(0)} ms over ${w.latencies.length} polls`);
    assert.ok(grew < RSS_BOUND, `the daemon grew ${(grew / MiB).toFixed(1)} MiB while streaming 3 x 300 MiB`);
    assert.ok(w.latencies.length > 10 && Math.max(...w.latencies) < 1000, `/health answered during it (max ${Math.max(...w.latencies).toFixed(0)} ms over ${w.latencies.length} polls)`);
  });

  test('pulls of /dev/zero and of a FIFO are refused at once; a regular file streams whole', async (t) => {
    assert.equal((await d.cli('exec', 'b1', '--', 'mkfifo', '/tmp/fifo')).code, 0);
    assert.equal((await d.cli('exec', 'b1', '--', 'sh', '-c', `head -c ${50 * MiB} /dev/urandom > /tmp/big`)).code, 0);
    const base = rssOf(d.proc!.pid!);
    const watch = watchDaemon(d);
    for (const path of ['/dev/zero', '/tmp/fifo', '/dev/urandom', '/tmp']) {
      const t0 = Date.now();
      const r = await d.api('GET', `/instances/b1/files?path=${encodeURIComponent(path)}`, undefined, d.token);
      assert.equal(r.status, 400, `${path}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.error.message, /is not a regular file/);
      assert.ok(Date.now() - t0 < 10_000, `${path} answered in ${Date.now() - t0} ms`);
    }
    const back = join(work, 'big.back');
    await run('file', 'pull', 'b1:/tmp/big', back);
    assert.equal(statSync(back).size, 50 * MiB);
    const sum = await d.cli('exec', 'b1', '--', 'sh', '-c', 'cat /tmp/big | busybox md5sum');
    const local = createHash('md5').update(readFileSync(back)).digest('hex');
    assert.equal(sum.stdout.split(' ')[0], local);
    rmSync(back);
    const w = await watch.stop();
    t.diagnostic(`RSS growth ${((w.peakRss - base) / MiB).toFixed(1)} MiB; /health max ${Math.max(...w.latencies).toFixed(0)} ms`);
    assert.ok(w.peakRss - base < RSS_BOUND, `the daemon grew ${((w.peakRss - base) / MiB).toFixed(1)} MiB`);
    assert.ok(Math.max(...w.latencies) < 1000, `/health max ${Math.max(...w.latencies).toFixed(0)} ms`);
  });

  test('a container writing 600 MB to its output keeps the log bounded and /health fast (p99 < 50 ms)', async (t) => {
    const watch = watchDaemon(d, 10);
    await run('launch', 'bb', 'loud', '--app', '--memory', '128MiB', '--quiet', '--', '-c', `yes 0123456789abcdef | head -c ${600 * MiB}; echo NIMBO-DONE; exec sleep 100000`);
    let log = '';
    for (let i = 0; i < 600 && !/NIMBO-DONE/.test(log); i++) {
      await sleep(200);
      log = (await d.api('GET', '/instances/loud/console/log?bytes=4096')).body as string;
    }
    const w = await watch.stop();
    assert.match(log, /NIMBO-DONE/, 'the container wrote all of it');
    const runDir = await d.runDirOf('loud');
    const sizes = Object.fromEntries(readdirSync(runDir).filter((f) => f.startsWith('serial.log')).map((f) => [f, statSync(join(runDir, f)).size]));
    for (const [f, n] of Object.entries(sizes)) assert.ok(n <= MiB, `${f} holds ${n} bytes`);
    assert.ok('serial.log.1' in sizes, `rotated by rename: ${JSON.stringify(sizes)}`);
    const p99 = percentile(w.latencies, 99);
    t.diagnostic(`log files ${JSON.stringify(sizes)}; /health p99 ${p99.toFixed(1)} ms, max ${Math.max(...w.latencies).toFixed(0)} ms over ${w.latencies.length} polls`);
    assert.ok(p99 < 50, `/health p99 ${p99.toFixed(1)} ms (max ${Math.max(...w.latencies).toFixed(0)}) over ${w.latencies.length} polls`);
    await run('delete', 'loud', '--force', '--quiet');
  });
});
