// An old state dir upgrades in place, and rename/PATCH on a real daemon (containers: fast).
// The old state dir is made faithfully: a container launched and stopped by this daemon, then (daemon stopped)
// its record rewritten to the version-1 shape, its run and instance dirs moved to the name-derived paths an old
// nimbo used, the owners of its address and id slot set to its name, and the records-version marker removed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync, rmSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { TestDaemon, systemSkipReason } from './harness.js';
import { runArgv } from '../../src/host/exec.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { readValuesReadOnly } from '../../src/store/sqlite/read-only.js';
import { keys } from '../../src/store/keys.js';
import type { InstanceRecord } from '../../src/core/instance-record.js';
import { checkInstanceRecord } from '../../src/core/records/instance-schema.js';

const skip = systemSkipReason() ?? (existsSync('/usr/sbin/runc') ? undefined : 'runc is not installed (run scripts/setup.sh)');

interface Inst { id: string; name: string; state: string; addresses: string[]; description: string; autostart: string; cpus: number }

/** Rewrite the store of a stopped daemon as an old (record version 1) nimbo left it, and move the dirs. */
async function makeOld(d: TestDaemon, name: string): Promise<void> {
  const store = new SqliteStore(join(d.stateDir, 'state.db'));
  try {
    const kv = (await store.get<InstanceRecord>(keys.instance('default', name)))!;
    const { v: _v, driver: _d, hostIds, desired: _s, description: _x, ...v1 } = kv.value;
    // Old nimbo: every host dir named after the instance.
    for (const [now, old] of [[hostIds?.runDir, join(d.stateDir, 'run', name)], [hostIds?.instanceDir, join(d.stateDir, 'instances', name)]] as const) {
      if (now && now !== old && existsSync(now)) {
        rmSync(old, { recursive: true, force: true });
        mkdirSync(dirname(old), { recursive: true });
        renameSync(now, old);
      }
    }
    await store.put(kv.key, v1);
    for (const prefix of [keys.allIpam, keys.idmaps, keys.vmids]) {
      for (const o of await store.list<{ owner?: string }>(prefix)) if (o.value.owner === kv.value.uuid) await store.put(o.key, { ...o.value, owner: name });
    }
    // Old nimbo had no projects: every scoped record back at its key without one (/instances/NAME, /images/NAME, ...).
    for (const prefix of [keys.allInstances, keys.allSnapshots, keys.allVolumeMeta, keys.allIpam, keys.allNetworks, keys.allSecgroups, keys.allForwards, '/images/']) {
      for (const o of await store.list<Record<string, unknown>>(prefix)) {
        const [, kind, project, ...rest] = o.key.split('/');
        if (project !== 'default' && project !== 'public') continue;
        const { project: _p, ...value } = o.value;
        await store.delete(o.key);
        await store.put(`/${kind}/${rest.join('/')}`, value);
      }
    }
    await store.delete(keys.recordsVersion);
  } finally {
    await store.close();
  }
}

describe('upgrade in place, rename and PATCH (real daemon, containers)', { skip }, () => {
  let d: TestDaemon;
  const run = async (...args: string[]) => {
    const r = await d.cli(...args);
    assert.equal(r.code, 0, `nimbo ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const runcState = async (id: string) => {
    const r = await runArgv(['runc', '--root', join(d.stateDir, 'run', 'runc'), 'state', id], { allowFailure: true });
    return r.code === 0 ? (JSON.parse(r.stdout) as { status: string; pid: number }) : null;
  };
  const records = () => readValuesReadOnly<InstanceRecord & { version?: number }>(join(d.stateDir, 'state.db'), '/');

  before(async () => {
    d = await TestDaemon.start();
    await run('image', 'build', 'tiny', '--quiet');
    await run('launch', 'tiny', 'old1', '--container', '--memory', '64MiB', '--quiet');
    await run('stop', 'old1', '--force', '--quiet');
    await d.stop();
    await makeOld(d, 'old1');
    await d.launch();
  });
  after(async () => {
    await d?.cleanup();
  });

  test('the old record is migrated at start: listed, version 2, host ids pinned to the name-derived ones', async () => {
    const list = await d.cliJson<Inst[]>('list');
    assert.deepEqual(list.map((i) => [i.name, i.state]), [['old1', 'stopped']]);
    const info = await d.cliJson<Inst>('info', 'old1');
    assert.equal(info.description, '');
    assert.equal(info.autostart, 'last-state');
    const rec = records().find((r) => r.name === 'old1')!;
    assert.doesNotThrow(() => checkInstanceRecord(keys.instance('default', 'old1'), rec), 'a real migrated record passes the schema');
    assert.equal(rec.v, 2);
    assert.equal(rec.driver, 'runc');
    assert.deepEqual(rec.desired, { power: 'stopped', autostart: 'last-state' });
    assert.equal(rec.hostIds!.runDir, join(d.stateDir, 'run', 'old1'));
    assert.equal(rec.hostIds!.runtimeId, `${d.prefix}-old1`);
    assert.ok(records().some((r) => r.version === 3), 'the marker /meta/records says 3 (projects)');
  });

  test('the migrated container starts and runs under the runtime id it was made with', async () => {
    await run('start', 'old1', '--quiet');
    assert.equal((await d.cliJson<Inst>('info', 'old1')).state, 'running');
    assert.equal((await runcState(`${d.prefix}-old1`))?.status, 'running');
    assert.equal((await d.cli('exec', 'old1', '--', 'true')).code, 0);
  });

  test('rename a running container: nothing on the host changes, the old name is 404, the new one answers, DNS follows', async () => {
    const before = await runcState(`${d.prefix}-old1`);
    assert.equal(before?.status, 'running');
    const addr = (await d.cliJson<Inst>('info', 'old1')).addresses[0]!;
    assert.equal(await run('rename', 'old1', 'new1'), 'Renamed old1 to new1\n');
    const after = await runcState(`${d.prefix}-old1`);
    assert.deepEqual(after, before, 'same runc id, same process');
    assert.ok(existsSync(join(d.stateDir, 'run', 'old1')), 'the run dir stays where it was');
    assert.equal((await d.api('GET', '/instances/old1')).status, 404);
    const info = await d.cliJson<Inst>('info', 'new1');
    assert.equal(info.state, 'running');
    assert.deepEqual(info.addresses, [addr]);
    const hosts = readFileSync(join(d.stateDir, 'networks', 'default', 'addn-hosts'), 'utf8');
    assert.match(hosts, new RegExp(`^${addr.replace(/\./g, '\\.')}\\s+new1\\b`, 'm'), hosts);
    assert.doesNotMatch(hosts, /\bold1\b/);
    // The daemon still drives it, under its new name, through the host ids in its record.
    const exec = await d.cli('exec', 'new1', '--', 'hostname');
    assert.equal(exec.code, 0, exec.stderr);
  });

  test('rename to a taken name is 409 and changes nothing; PATCH cpus of a running instance is 409', async () => {
    await run('launch', 'tiny', 'taken', '--container', '--memory', '64MiB', '--no-start', '--quiet');
    const r = await d.cli('rename', 'new1', 'taken');
    assert.equal(r.code, 4);
    assert.match(r.stderr, /instance taken already exists/);
    assert.equal((await d.api('GET', '/instances/new1')).status, 200);
    const p = await d.api('PATCH', '/instances/new1', { cpus: 2 });
    assert.equal(p.status, 409);
    assert.equal(p.body.error.message, 'instance new1 is running: cpus and memory can be changed only while it is stopped');
    const ok = await d.api('PATCH', '/instances/new1', { description: 'renamed', autostart: 'always' });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.description, 'renamed');
    assert.equal(ok.body.autostart, 'always');
    const taken = await d.api('PATCH', '/instances/taken', { cpus: 2, memory: '128MiB' });
    assert.equal(taken.status, 200, JSON.stringify(taken.body));
    assert.equal(taken.body.cpus, 2);
  });
});
