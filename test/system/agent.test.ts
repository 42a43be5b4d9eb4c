import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { TestDaemon, makeSshKey, systemSkipReason } from './harness.js';
import { runArgv } from '../../src/host/exec.js';
import { agentFsFreezeStatus } from '../../src/drivers/compute/qemu/guest-agent.js';
import { runPaths } from '../../src/drivers/compute/qemu/run-paths.js';

const skip = systemSkipReason();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface AgentView {
  available: boolean;
  version?: string;
  interfaces?: { name: string; addresses: { family: string; address: string; prefix: number }[] }[];
}

describe('guest agent of a tiny VM (TCG): addresses, exec, freeze, password, shutdown', { skip, timeout: 240_000 }, () => {
  let d: TestDaemon;
  let key: { dir: string; key: string; pub: string };
  const vm = 'ga1';

  before(async () => {
    d = await TestDaemon.start();
    key = await makeSshKey();
    const r = await d.cli('launch', 'tiny', vm, '--ssh-key', `${key.key}.pub`, '--memory', '256MiB', '--cpus', '1', '--quiet');
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    await d?.cleanup();
    if (key) rmSync(key.dir, { recursive: true, force: true });
  });

  test('the agent answers and reports the VM address', async () => {
    const address = (await d.api('GET', `/instances/${vm}`)).body.addresses[0] as string;
    let agent: AgentView | undefined;
    for (let i = 0; i < 120; i++) {
      agent = (await d.api('GET', `/instances/${vm}`)).body.agent as AgentView | undefined;
      if (agent?.available && agent.interfaces?.some((n) => n.addresses.some((a) => a.address === address))) break;
      await sleep(500);
    }
    assert.equal(agent?.available, true, JSON.stringify(agent));
    assert.match(agent!.version ?? '', /^\d+\.\d+/);
    const v4 = agent!.interfaces!.flatMap((n) => n.addresses).filter((a) => a.family === 'ipv4');
    assert.ok(v4.some((a) => a.address === address), `guest addresses ${JSON.stringify(v4)} include ${address}`);
    const info = await d.cli('info', vm);
    assert.match(info.stdout, new RegExp(`Guest agent:\\s+qemu-ga [0-9.]+; guest addresses: .*${address.replace(/\./g, '\\.')}/`));
  });

  test('exec: output, exit codes, stdin; -t refused; a missing program is 127', async () => {
    const u = await d.cli('exec', vm, '--', 'uname', '-m');
    assert.equal(u.code, 0, u.stderr);
    assert.equal(u.stdout, 'x86_64\n');
    const e = await d.cli('exec', vm, '--', 'sh', '-c', 'echo out; echo err >&2; exit 7');
    assert.equal(e.code, 7);
    assert.equal(e.stdout, 'out\n');
    assert.equal(e.stderr, 'err\n');
    const api = await d.api('POST', `/instances/${vm}/exec`, { command: ['cat'], input: 'piped in' });
    assert.equal(api.status, 200, JSON.stringify(api.body));
    assert.deepEqual([api.body.exitCode, api.body.stdout], [0, 'piped in']);
    const t = await d.cli('exec', '-t', vm, '--', 'sh');
    assert.notEqual(t.code, 0);
    assert.match(t.stderr, /no pty exec \(-t\) for VMs: run it without -t/);
    const missing = await d.cli('exec', vm, '--', '/no/such/program');
    assert.equal(missing.code, 127);
  });

  test('a snapshot of the running VM is application-consistent: frozen meanwhile, thawed after', async () => {
    const r = await d.cli('snapshot', 'create', vm, 's1', '--quiet');
    assert.equal(r.code, 0, r.stderr);
    const snaps = await d.cliJson<{ name: string; consistency?: string; frozenMs?: number }[]>('snapshot', 'list', vm);
    const s1 = snaps.find((s) => s.name === 's1');
    assert.equal(s1?.consistency, 'application', JSON.stringify(s1));
    assert.ok(typeof s1?.frozenMs === 'number' && s1.frozenMs >= 0);
    // The freeze happened (the record's consistency and frozenMs come from the agent's freeze and thaw replies); thawed again.
    assert.equal(await agentFsFreezeStatus(runPaths(await d.runDirOf(vm)).qga), 'thawed');
    const w = await d.cli('exec', vm, '--', 'sh', '-c', 'echo still-writable > /root/after-snap && cat /root/after-snap');
    assert.equal(w.stdout, 'still-writable\n');
  });

  test('password_reset sets root\'s password at once through the agent', async () => {
    const password = 'agent-pw-42';
    const op = await d.api('POST', `/instances/${vm}/actions`, { type: 'password_reset', password });
    assert.equal(op.status, 202, JSON.stringify(op.body));
    const done = await d.api('GET', `/operations/${op.body.operation?.id ?? op.body.id}/wait?timeout=60`);
    assert.equal(done.body.status, 'success', JSON.stringify(done.body));
    assert.equal(done.body.result?.applies, 'now', JSON.stringify(done.body.result));
    // dropbear here takes keys only: check the hash in the guest's /etc/shadow against the password.
    const shadow = await d.cli('exec', vm, '--', 'sh', '-c', 'grep ^root: /etc/shadow | cut -d: -f2');
    const hash = shadow.stdout.trim();
    const salt = hash.split('$')[2] ?? '';
    assert.match(hash, /^\$6\$/);
    const mine = await runArgv(['openssl', 'passwd', '-6', '-salt', salt, '-stdin'], { input: `${password}\n` });
    assert.equal(mine.stdout.trim(), hash);
  });

  test('stop: a guest that ignores ACPI is shut down through its agent, not hard-stopped', async () => {
    const k = await d.cli('exec', vm, '--', 'killall', 'acpid');
    assert.equal(k.code, 0, k.stderr);
    const t0 = Date.now();
    const r = await d.cli('stop', vm, '--timeout', '30', '--quiet');
    assert.equal(r.code, 0, r.stderr);
    const took = Date.now() - t0;
    assert.ok(took < 29_000, `stopped after ${took} ms: before the hard stop at 30 s`);
    // A clean poweroff: the kernel says so on the console (a hard stop never gets that far).
    const log = (await d.api('GET', `/instances/${vm}/console/log?bytes=65536`)).body as string;
    assert.match(log, /reboot: Power down/);
    assert.equal((await d.api('GET', `/instances/${vm}`)).body.state, 'stopped');
  });
});
