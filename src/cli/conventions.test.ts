import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import YAML from 'yaml';
import type { Command } from 'commander';
import type { Operation } from '../shared/api-types.js';
import { runNimbo } from './cli-harness.js';
import { FakeDaemon, sampleInstance } from './fake-daemon.js';
import { registerLifecycle } from './lifecycle.js';
import { buildProgram } from './program.js';

const fake = new FakeDaemon();
const home = mkdtempSync(join(tmpdir(), 'nimbo-conv-'));
const nimbo = (args: string[]) => runNimbo(fake.url, fake.token, home, args);

before(() => fake.start());
after(async () => {
  await fake.stop();
  rmSync(home, { recursive: true, force: true });
});

/**
 * Commands without -o, each with the reason (reviewed): they stream, print raw bytes, answer with no
 * object (204), or run locally. Every other runnable command answers with an object and takes -o.
 */
const NO_OUTPUT: Record<string, string> = {
  'file push': 'the API answers 204: no object',
  'file pull': 'streams the file bytes',
  logs: 'streams console/log text',
  exec: 'streams the command output and passes its exit code',
  console: 'interactive console or raw log bytes',
  'network forward delete': 'the API answers 204: no object',
  'firewall group delete': 'the API answers 204: no object',
  'plan delete': 'the API answers 204: no object',
  'webhook delete': 'the API answers 204: no object',
  completion: 'prints a shell script',
  daemon: 'runs nimbod in the foreground',
  up: 'local bring-up with progress',
  down: 'local: stops the daemon',
  'admin uninstall': 'local host sweep: prints each object it removes as it goes',
  logout: 'revokes and forgets the stored token: the API answers with no object worth printing',
  'user delete': 'the API answers 204: no object',
  'user passwd': 'the API answers 204: no object',
  'project delete': 'the API answers 204: no object',
  'project member remove': 'the API answers 204: no object',
  'backup delete': 'the API answers 204: no object',
  'backup export': 'streams the disk or tar bytes to a file',
  'backup file': 'streams the file bytes',
  'backup job run': 'prints the run result line',
  'backup job delete': 'the API answers 204: no object',
  'backup store key': 'prints the wrapped key as JSON (always)',
  'backup store delete': 'the API answers 204: no object',
  'image remote remove': 'the API answers 204: no object',
  help: "commander's help",
};

function runnable(cmd: Command, path: string[] = []): { path: string; cmd: Command }[] {
  return cmd.commands.flatMap((c) => {
    const p = [...path, c.name()];
    const self = c.commands.length === 0 || (c as unknown as { _actionHandler?: unknown })._actionHandler ? [{ path: p.join(' '), cmd: c }] : [];
    return [...self, ...runnable(c, p)];
  });
}

test('every command that answers with an object takes -o table|json|yaml; the exclusions are real and reviewed', () => {
  const program = buildProgram();
  registerLifecycle(program);
  const all = runnable(program);
  const missing = all.filter(({ path, cmd }) => !(path in NO_OUTPUT) && !cmd.options.some((o) => o.long === '--output')).map((c) => c.path);
  assert.deepEqual(missing, [], 'commands without -o');
  for (const { path, cmd } of all) {
    const o = cmd.options.find((x) => x.long === '--output');
    if (o) assert.deepEqual(o.argChoices, ['table', 'json', 'yaml'], path);
  }
  const paths = new Set(all.map((c) => c.path));
  for (const p of Object.keys(NO_OUTPUT).filter((p) => p !== 'help')) {
    assert.ok(paths.has(p), `exclusion "${p}" names no command`);
    assert.ok(!all.find((c) => c.path === p)!.cmd.options.some((o) => o.long === '--output'), `"${p}" has -o: drop it from the exclusions`);
  }
  // Writes are among them (the point of the check): an async one, a many-name one, a sync one.
  for (const p of ['launch', 'stop', 'delete', 'network create', 'storage volume create', 'firewall group create', 'network forward add', 'snapshot create', 'image build']) {
    assert.ok(all.find((c) => c.path === p)!.cmd.options.some((o) => o.long === '--output'), p);
  }
});

test('launch -o json prints only the final Operation on stdout; progress is off when not a terminal', async () => {
  const r = await nimbo(['launch', 'tiny', 'j1', '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  const op = JSON.parse(r.stdout) as Operation;
  assert.equal(op.kind, 'instance.create');
  assert.equal(op.target, 'j1');
  assert.equal(op.status, 'success');
  const n = await nimbo(['launch', 'tiny', 'j2', '--no-wait', '-o', 'yaml']);
  assert.equal(n.code, 0, n.stderr);
  const started = YAML.parse(n.stdout) as Operation;
  assert.equal(started.status, 'running');
  assert.equal(started.target, 'j2');
});

test('many-name commands print one JSON array; failures go to stderr and set the exit code', async () => {
  const r = await nimbo(['stop', 'vm1', 'vm1', '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const ops = JSON.parse(r.stdout) as Operation[];
  assert.deepEqual(ops.map((o) => [o.kind, o.status]), [['instance.stop', 'success'], ['instance.stop', 'success']]);
  const one = await nimbo(['start', 'vm1', '-o', 'json']);
  assert.equal((JSON.parse(one.stdout) as Operation[]).length, 1, 'an array even for one name');
  const f = await nimbo(['delete', 'ghost', 'vm1', '--force', '-o', 'json']);
  assert.equal(f.code, 3);
  assert.equal(f.stderr, 'nimbo: error: ghost: instance ghost not found\n');
  assert.deepEqual((JSON.parse(f.stdout) as Operation[]).map((o) => o.kind), ['instance.delete']);
});

test('operation wait -o json: the final Operation, no progress lines when not a terminal', async () => {
  const op = fake.newOp('image.build', 'tiny');
  const r = await nimbo(['operation', 'wait', op.id, '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.equal((JSON.parse(r.stdout) as Operation).status, 'success');
});

test('a failed operation with -o json prints nothing on stdout and exits 1', async () => {
  fake.finalStatus = 'failure';
  try {
    const r = await nimbo(['image', 'build', 'tiny', '-o', 'json']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /no space left on device/);
  } finally {
    fake.finalStatus = 'success';
  }
});

test('sync writes: -o json prints the resource the API answered with; table prints the summary line', async () => {
  const j = await nimbo(['firewall', 'group', 'create', 'web', '--description', 'front', '-o', 'json']);
  assert.equal(j.code, 0, j.stderr);
  assert.deepEqual(JSON.parse(j.stdout), { name: 'web', description: 'front', rules: [], attachedTo: [], createdAt: '2024-01-01T00:00:00.000Z' });
  const t = await nimbo(['firewall', 'group', 'create', 'web']);
  assert.equal(t.stdout, 'Created security group web\n');
});

test('list --columns, --filter and --no-header; bad names exit 2 before any request', async () => {
  fake.instances = [
    sampleInstance({ name: 'a', state: 'running' }),
    sampleInstance({ name: 'b', state: 'stopped', type: 'container', image: 'debian-12' }),
    sampleInstance({ name: 'c', state: 'paused', nics: [{ name: 'eth0', network: 'back', mac: 'm', address: '10.1.0.2', tap: 't' }] }),
  ];
  const r = await nimbo(['list', '--columns', 'name,state,type', '--filter', 'state=running', '--filter', 'state=stopped']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'NAME  STATE    TYPE\na     running  vm\nb     stopped  container\n');
  const nh = await nimbo(['ls', '--no-header', '--columns', 'name', '--filter', 'network=back']);
  assert.equal(nh.stdout, 'c\n');
  const img = await nimbo(['list', '--filter', 'image=debian-12', '--filter', 'type=container', '-o', 'json']);
  assert.deepEqual((JSON.parse(img.stdout) as { name: string }[]).map((i) => i.name), ['b']);
  const seen = fake.seen.length;
  const bc = await nimbo(['list', '--columns', 'name,colour']);
  assert.equal(bc.code, 2);
  assert.match(bc.stderr, /unknown column "colour"; known columns: name, type, state, image, cpus, memory, disk, addresses, age, arch/);
  const bf = await nimbo(['list', '--filter', 'zone=x']);
  assert.equal(bf.code, 2);
  assert.match(bf.stderr, /unknown filter key "zone"; keys: name, state, type, image, network, arch, label\.KEY/);
  assert.equal(fake.seen.length, seen, 'no request for bad list options');
  fake.instances = [sampleInstance()];
});

test('launch --label, then list --filter label.KEY=VALUE (or label=KEY=VALUE)', async () => {
  const l = await nimbo(['launch', 'tiny', 'lab1', '--label', 'tier=web', '--label', 'team=blue', '-q']);
  assert.equal(l.code, 0, l.stderr);
  assert.deepEqual(fake.seen.filter((s) => s.method === 'POST' && s.path === '/api/v1/instances').at(-1)?.body, { name: 'lab1', image: 'tiny', labels: { tier: 'web', team: 'blue' } });
  assert.match((await nimbo(['info', 'lab1'])).stdout, /^Labels: +tier=web, team=blue$/m);
  const r = await nimbo(['list', '--filter', 'label.tier=web', '--columns', 'name', '--no-header']);
  assert.equal(r.stdout, 'lab1\n');
  const r2 = await nimbo(['list', '--filter', 'label=team=red', '--no-header']);
  assert.equal(r2.stdout, '');
  fake.instances = fake.instances.filter((i) => i.name !== 'lab1');
});

test('image and operation lists take --filter/--columns too', async () => {
  const o = await nimbo(['operation', 'list', '--filter', 'kind=instance.create', '--filter', 'target=j1', '--filter', 'target=j2', '--columns', 'kind,target', '--no-header']);
  assert.equal(o.code, 0, o.stderr);
  assert.match(o.stdout, /^instance\.create\s+j2\ninstance\.create\s+j1\n$/);
  const i = await nimbo(['image', 'list', '--filter', 'status=ready', '--no-header']);
  assert.deepEqual([i.code, i.stdout], [0, '']);
});

test('dead option combinations are refused (exit 2), not ignored', async () => {
  const c = await nimbo(['console', 'vm1', '--bytes', '10']);
  assert.equal(c.code, 2);
  assert.match(c.stderr, /--bytes goes with --log/);
  const s = await nimbo(['snapshot', 'schedule', 'vm1', '--off', '--expiry', '7d']);
  assert.equal(s.code, 2);
  assert.match(s.stderr, /--off takes no cron, --expiry or --stateful/);
  const f = await nimbo(['stop', 'vm1', '--force', '--timeout', '30']);
  assert.equal(f.code, 2);
  assert.match(f.stderr, /--force stops at once/);
  const x = await nimbo(['exec', '-t', '--timeout', '5', 'vm1', '--', 'sh']);
  assert.equal(x.code, 2);
  assert.match(x.stderr, /--timeout is for a piped exec/);
  const k = await nimbo(['launch', 'nginx', 'app1', '--app', '--ssh-key', '/dev/null']);
  assert.equal(k.code, 2);
  assert.match(k.stderr, /--ssh-key is for VMs and system containers/);
  const e = await nimbo(['launch', 'tiny', 'vm9', '--env', 'A=1']);
  assert.equal(e.code, 2);
  assert.match(e.stderr, /are for application containers \(--app\)/);
});
