import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeExec } from '../../../host/fake-exec.js';
import { MemoryNetFs } from '../memory-fs.js';
import { DnsmasqControl, assertReachableByDnsmasq, isOurDnsmasq } from './dnsmasq.js';

const dir = '/run/nimbo/net';
const conf = `${dir}/dnsmasq.conf`;
const cmd = (...a: string[]) => `${a.join('\0')}\0`;

/** A fake host where running `dnsmasq` "daemonizes": writes the pid file and a /proc entry. */
function host(pid = 4242) {
  const fs = new MemoryNetFs();
  const exec = new FakeExec();
  const run = exec.run.bind(exec);
  exec.run = async (argv, opts) => {
    const res = await run(argv, opts);
    if (argv[0] === 'dnsmasq') {
      fs.files.set(`${dir}/dnsmasq.pid`, { data: `${pid}\n` });
      fs.files.set(`/proc/${pid}/cmdline`, { data: cmd('dnsmasq', `--conf-file=${conf}`) });
      fs.files.set(`/proc/${pid}/stat`, { data: `${pid} (dnsmasq) S 1 1 1` });
      fs.live.add(pid);
    }
    return res;
  };
  fs.onKill = (p, sig) => {
    if (sig === 'SIGTERM' || sig === 'SIGKILL') {
      // An exiting process loses its cmdline first and becomes a zombie (never reaped here).
      fs.files.delete(`/proc/${p}/cmdline`);
      fs.files.set(`/proc/${p}/stat`, { data: `${p} (dnsmasq) Z 1 1 1` });
    }
  };
  const ctl = new DnsmasqControl({ exec, fs, sleep: async () => {} });
  return { fs, exec, ctl };
}

test('isOurDnsmasq checks program name and our --conf-file', () => {
  assert.equal(isOurDnsmasq(cmd('/usr/sbin/dnsmasq', `--conf-file=${conf}`), conf), true);
  assert.equal(isOurDnsmasq(cmd('dnsmasq', '--conf-file=/other.conf'), conf), false);
  assert.equal(isOurDnsmasq(cmd('bash', `--conf-file=${conf}`), conf), false);
  assert.equal(isOurDnsmasq('', conf), false);
});

test('start runs dnsmasq with --conf-file once; isRunning verifies /proc', async () => {
  const { exec, ctl } = host();
  assert.equal(await ctl.isRunning(dir), false);
  await ctl.start(dir);
  await ctl.start(dir);
  assert.deepEqual(exec.lines(), [`dnsmasq --conf-file=${conf}`]);
  assert.equal(await ctl.pid(dir), 4242);
});

test('a stale pid file pointing at another process is never signalled', async () => {
  const { fs, ctl } = host();
  fs.files.set(`${dir}/dnsmasq.pid`, { data: '1\n' });
  fs.files.set('/proc/1/cmdline', { data: cmd('/sbin/init') });
  fs.live.add(1);
  assert.equal(await ctl.isRunning(dir), false);
  assert.equal(await ctl.reload(dir), false);
  await ctl.stop(dir);
  assert.deepEqual(fs.signals, []);
  assert.equal(fs.files.has(`${dir}/dnsmasq.pid`), false, 'stale pid file removed');
});

test('reload sends SIGHUP, stop sends SIGTERM and removes the pid file', async () => {
  const { fs, ctl } = host();
  await ctl.start(dir);
  assert.equal(await ctl.reload(dir), true);
  await ctl.stop(dir);
  assert.deepEqual(fs.signals, ['SIGHUP 4242', 'SIGTERM 4242']);
  assert.equal(await ctl.isRunning(dir), false);
  assert.equal(fs.files.has(`${dir}/dnsmasq.pid`), false);
});

test('stop escalates to SIGKILL when SIGTERM is ignored', async () => {
  const { fs, ctl } = host();
  await ctl.start(dir);
  fs.onKill = (p, sig) => {
    // SIGTERM only loses the cmdline (the process is still closing its sockets); SIGKILL ends it.
    fs.files.delete(`/proc/${p}/cmdline`);
    if (sig === 'SIGKILL') fs.files.delete(`/proc/${p}/stat`);
  };
  await ctl.stop(dir);
  assert.deepEqual(fs.signals, ['SIGTERM 4242', 'SIGKILL 4242']);
});

test('start fails clearly when dnsmasq exits 0 but never shows up', async () => {
  const fs = new MemoryNetFs();
  const ctl = new DnsmasqControl({ exec: new FakeExec(), fs, sleep: async () => {} });
  await assert.rejects(ctl.start(dir), /no running process/);
});

test('assertReachableByDnsmasq refuses a state dir under a private directory', async () => {
  const fs = new MemoryNetFs();
  fs.dirs.set('/var/lib/nimbo', 0o755);
  fs.dirs.set('/var/lib/nimbo/networks/default', 0o755);
  await assertReachableByDnsmasq(fs, '/var/lib/nimbo/networks/default');
  fs.dirs.set('/var/lib/nimbo', 0o700);
  await assert.rejects(assertReachableByDnsmasq(fs, '/var/lib/nimbo/networks/default'), (e: any) => e.code === 'Conflict' && /\/var\/lib\/nimbo has mode 700/.test(e.message));
});
