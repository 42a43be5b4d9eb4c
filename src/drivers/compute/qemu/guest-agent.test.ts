import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NimboError } from '../../../lib/errors.js';
import {
  agentExec, agentExecStatus, agentFsFreeze, agentFsFreezeStatus, agentFsThaw, agentInfo, agentNetworkInterfaces, agentPing,
  agentRun, agentSetUserPassword, agentShutdown, GuestAgentError, parseInterfaces, withGuestAgent,
} from './guest-agent.js';
import { fakeGuestAgent } from './fake-guest-agent.js';

const code = (c: string) => (e: unknown) => e instanceof NimboError && e.code === c;

test('sync skips stale bytes before the delimiter; ping and info answer', async () => {
  const f = await fakeGuestAgent((cmd) => {
    if (cmd === 'guest-ping') return { return: {} };
    if (cmd === 'guest-info') return { return: { version: '7.2.0', supported_commands: [{ name: 'guest-ping', enabled: true }, { name: 'guest-exec', enabled: false }] } };
    return { error: { class: 'CommandNotFound', desc: `${cmd} not found` } };
  }, {
    // A late reply from an earlier session, and a partial line, both before our sync.
    onConnect: (s) => s.write('{"return": 12345}\n{"return": {"pid": 7}}\n{"retu'),
  });
  try {
    await agentPing(f.path);
    const info = await agentInfo(f.path);
    assert.equal(info.version, '7.2.0');
    assert.deepEqual(info.commands, ['guest-ping']);
    await assert.rejects(withGuestAgent(f.path, (s, d) => s.call('guest-bogus', undefined, d)), (e: unknown) => {
      assert.ok(e instanceof GuestAgentError);
      assert.equal(e.agentClass, 'CommandNotFound');
      assert.equal(e.code, 'InvalidArgument');
      return true;
    });
    // Every session started with our sync, and the 0xFF went before it.
    assert.equal(f.seen.filter((m) => m.execute === 'guest-sync-delimited').length, 3);
    const ids = f.seen.filter((m) => m.execute === 'guest-sync-delimited').map((m) => m.arguments?.id);
    assert.equal(new Set(ids).size, 3, 'a random id per session');
  } finally {
    f.done();
  }
});

test('a sync reply with a different id is not ours: the client waits for its own', async () => {
  const f = await fakeGuestAgent(() => ({ return: {} }), {
    onConnect: (s) => s.write(Buffer.concat([Buffer.from([0xff]), Buffer.from('{"return": 1}\n')])),
  });
  try {
    await agentPing(f.path);
  } finally {
    f.done();
  }
});

test('no agent in the guest: sync times out with a clear Timeout', async () => {
  const f = await fakeGuestAgent(() => ({ return: {} }), { sync: false });
  try {
    const t0 = Date.now();
    await assert.rejects(agentPing(f.path, { timeoutMs: 300 }), (e: unknown) => code('Timeout')(e) && /qemu-ga/.test((e as Error).message));
    assert.ok(Date.now() - t0 < 2000);
  } finally {
    f.done();
  }
});

test('no socket at all: Conflict naming the channel', async () => {
  await assert.rejects(agentPing('/nonexistent/qga.sock', { timeoutMs: 500 }), (e: unknown) => code('Conflict')(e) && /qga\.sock/.test((e as Error).message));
});

test('a reply larger than the bound is refused and the session closed', async () => {
  const f = await fakeGuestAgent(() => ({ return: 'x'.repeat(4096) }));
  try {
    await assert.rejects(agentPing(f.path, { maxResponseBytes: 1000 }), code('TooLarge'));
    // A line without its end is bounded too.
    const g = await fakeGuestAgent(() => ({ raw: Buffer.from('{"return": "' + 'y'.repeat(5000)) }));
    try {
      await assert.rejects(agentPing(g.path, { maxResponseBytes: 1000, timeoutMs: 2000 }), code('TooLarge'));
    } finally {
      g.done();
    }
  } finally {
    f.done();
  }
});

test('a command without reply times out per call; replies with another id are skipped', async () => {
  const f = await fakeGuestAgent((cmd) => (cmd === 'guest-fsfreeze-status' ? 'silent' : { return: 2 }), { echoId: true });
  try {
    await assert.rejects(agentFsFreezeStatus(f.path, { timeoutMs: 300 }), code('Timeout'));
    assert.equal(await agentFsFreeze(f.path), 2);
    assert.equal(await agentFsThaw(f.path), 2);
  } finally {
    f.done();
  }
  const g = await fakeGuestAgent(() => ({ raw: Buffer.from('{"return": "stale", "id": "other"}\n{"return": "frozen", "id": "nimbo-1"}\n') }));
  try {
    assert.equal(await agentFsFreezeStatus(g.path), 'frozen');
  } finally {
    g.done();
  }
});

test('sessions on one socket run one at a time', async () => {
  const f = await fakeGuestAgent(() => ({ return: {} }));
  try {
    await Promise.all(Array.from({ length: 6 }, () => agentPing(f.path)));
    assert.equal(f.maxConcurrent, 1);
    assert.equal(f.seen.filter((m) => m.execute === 'guest-ping').length, 6);
  } finally {
    f.done();
  }
});

test('network interfaces are normalized and bounded', async () => {
  const reply = [
    { name: 'lo', 'hardware-address': '00:00:00:00:00:00', 'ip-addresses': [{ 'ip-address-type': 'ipv4', 'ip-address': '127.0.0.1', prefix: 8 }] },
    { name: 'eth0', 'hardware-address': '52:54:00:12:34:56', 'ip-addresses': [
      { 'ip-address-type': 'ipv4', 'ip-address': '10.9.0.5', prefix: 24 },
      { 'ip-address-type': 'ipv6', 'ip-address': 'fe80::1', prefix: 64 },
      { 'ip-address-type': 'bogus', 'ip-address': 'x' },
    ] },
    { 'no-name': true },
  ];
  const f = await fakeGuestAgent(() => ({ return: reply }));
  try {
    const ifs = await agentNetworkInterfaces(f.path);
    assert.deepEqual(ifs.map((i) => i.name), ['lo', 'eth0']);
    assert.deepEqual(ifs[1].addresses, [{ family: 'ipv4', address: '10.9.0.5', prefix: 24 }, { family: 'ipv6', address: 'fe80::1', prefix: 64 }]);
    assert.equal(ifs[1].mac, '52:54:00:12:34:56');
  } finally {
    f.done();
  }
  assert.deepEqual(parseInterfaces({ not: 'an array' }), []);
  assert.equal(parseInterfaces(Array.from({ length: 500 }, (_, i) => ({ name: `e${i}` }))).length, 64);
});

test('set-user-password sends base64 and the crypted flag', async () => {
  const f = await fakeGuestAgent(() => ({ return: {} }));
  try {
    await agentSetUserPassword(f.path, 'root', 's3cret:é');
    const m = f.seen.find((x) => x.execute === 'guest-set-user-password');
    assert.deepEqual(m?.arguments, { username: 'root', password: Buffer.from('s3cret:é').toString('base64'), crypted: false });
  } finally {
    f.done();
  }
});

test('exec + exec-status: output decoded and capped, exit code kept; agentRun polls until exited', async () => {
  let polls = 0;
  const f = await fakeGuestAgent((cmd, args) => {
    if (cmd === 'guest-exec') {
      assert.deepEqual(args, { path: '/bin/sh', 'capture-output': true, arg: ['-c', 'echo hi'], 'input-data': Buffer.from('in').toString('base64') });
      return { return: { pid: 42 } };
    }
    if (cmd === 'guest-exec-status') {
      assert.equal(args?.pid, 42);
      if (++polls < 3) return { return: { exited: false } };
      return { return: { exited: true, exitcode: 3, 'out-data': Buffer.from('hello world').toString('base64'), 'err-data': Buffer.from('oops').toString('base64') } };
    }
    return { error: { class: 'GenericError', desc: 'unexpected' } };
  });
  try {
    const r = await agentRun(f.path, { path: '/bin/sh', args: ['-c', 'echo hi'], input: Buffer.from('in') }, { pollMs: 5, maxOutputBytes: 5 });
    assert.equal(r.exited, true);
    assert.equal(r.exitCode, 3);
    assert.equal(r.stdout.toString(), 'hello');
    assert.equal(r.stdoutTruncated, true);
    assert.equal(r.stderr.toString(), 'oops');
    assert.equal(r.stderrTruncated, false);
    assert.equal(polls, 3);
    assert.equal(await agentExec(f.path, { path: '/bin/sh', args: ['-c', 'echo hi'], input: Buffer.from('in') }), 42);
    const st = await agentExecStatus(f.path, 42);
    assert.equal(st.stdout.toString(), 'hello world');
  } finally {
    f.done();
  }
  await assert.rejects(agentExec('/nonexistent', { path: '/bin/true', input: Buffer.alloc(2 * 1024 * 1024) }), code('TooLarge'));
});

test('agentRun gives up after its timeout while the program runs', async () => {
  const f = await fakeGuestAgent((cmd) => (cmd === 'guest-exec' ? { return: { pid: 1 } } : { return: { exited: false } }));
  try {
    await assert.rejects(agentRun(f.path, { path: '/bin/sleep', args: ['100'] }, { timeoutMs: 200, pollMs: 20 }), code('Timeout'));
  } finally {
    f.done();
  }
});

test('shutdown: silence is success, an error reply throws', async () => {
  const ok = await fakeGuestAgent(() => 'silent');
  try {
    const t0 = Date.now();
    await agentShutdown(ok.path);
    assert.ok(Date.now() - t0 < 3000);
    assert.deepEqual(ok.seen.find((m) => m.execute === 'guest-shutdown')?.arguments, { mode: 'powerdown' });
  } finally {
    ok.done();
  }
  const bad = await fakeGuestAgent(() => ({ error: { class: 'GenericError', desc: 'shutdown failed' } }));
  try {
    await assert.rejects(agentShutdown(bad.path), (e: unknown) => e instanceof GuestAgentError && /shutdown failed/.test(e.message));
  } finally {
    bad.done();
  }
});

test('agentRun oneSession: one sync for the exec and every poll, at a steady pollMs; its timeout still holds', async () => {
  let polls = 0;
  const times: number[] = [];
  const f = await fakeGuestAgent((cmd) => {
    if (cmd === 'guest-exec') return { return: { pid: 7 } };
    times.push(Date.now());
    if (++polls < 5) return { return: { exited: false } };
    return { return: { exited: true, exitcode: 0, 'out-data': Buffer.from('done').toString('base64') } };
  });
  try {
    const r = await agentRun(f.path, { path: '/bin/sh', args: ['-s'] }, { pollMs: 10, maxPollMs: 10, oneSession: true });
    assert.equal(r.exitCode, 0);
    assert.equal(r.stdout.toString(), 'done');
    assert.equal(f.seen.filter((c) => c.execute === 'guest-sync-delimited').length, 1, 'one session');
    assert.deepEqual(f.seen.filter((c) => c.execute !== 'guest-sync-delimited').map((c) => c.execute), ['guest-exec', ...Array(5).fill('guest-exec-status')]);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    assert.ok(Math.max(...gaps) < 200, `steady polls, not doubling: ${gaps.join(',')}`);
  } finally {
    f.done();
  }
  const slow = await fakeGuestAgent((cmd) => (cmd === 'guest-exec' ? { return: { pid: 1 } } : { return: { exited: false } }));
  try {
    await assert.rejects(agentRun(slow.path, { path: '/bin/sleep', args: ['100'] }, { timeoutMs: 200, pollMs: 20, oneSession: true }), code('Timeout'));
  } finally {
    slow.done();
  }
});
