// The instance-driver contract against the fake driver (both presets), plus the fake's own test hooks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InstanceSpec, VolumeSnapshotPort } from '../instance-driver.js';
import { instanceDriverContract, rejectsWith } from './contract.js';
import { FakeInstanceDriver } from './fake-driver.js';

/** Pool snapshots kept in a set, so the suite's restore/delete are checked against what was made. */
function recordingVols(): VolumeSnapshotPort & { snaps: Set<string> } {
  const snaps = new Set<string>();
  return {
    snaps,
    async create(p, v, s) {
      snaps.add(`${p}/${v}@${s}`);
    },
    async restore(p, v, s) {
      if (!snaps.has(`${p}/${v}@${s}`)) throw new Error(`no snapshot ${p}/${v}@${s}`);
    },
    async remove(p, v, s) {
      snaps.delete(`${p}/${v}@${s}`);
    },
  };
}

for (const preset of ['vm', 'container'] as const) {
  const d = new FakeInstanceDriver({ preset });
  const vols = recordingVols();
  instanceDriverContract({
    label: `fake (${preset})`,
    driver: async () => d,
    hostIds: (uuid) => ({ runDir: `/run/fake/${uuid}`, instanceDir: `/inst/fake/${uuid}` }),
    spec: async (ref): Promise<InstanceSpec> => ({
      ...ref,
      cpus: 1,
      memoryBytes: 64 << 20,
      root: { pool: 'p', volume: `root-${ref.uuid}`, path: `/pool/root-${ref.uuid}` },
      nics: [{ name: 'eth0', network: 'n', mac: '52:54:00:00:00:01', address: '10.0.0.2/24', tap: 'ft-boot' }],
      volumes: [],
      networks: new Map([['n', { name: 'n', gateway: '10.0.0.1', mode: 'nat' }]]),
    }),
    prepareInput: () => ({ seed: { 'meta-data': 'x' }, root: 'new' }),
    nic: async () => ({ name: 'eth1', network: 'n', mac: '52:54:00:00:00:02', address: '10.0.0.3/24', tap: 'ft-hot' }),
    volume: async () => ({ pool: 'p', volume: 'data', path: '/pool/data', limits: { bytesRead: 0, bytesWrite: 0, iopsRead: 0, iopsWrite: 0 }, ...(preset === 'container' ? { mountPath: '/data' } : {}) }),
    sees: {
      nic: async (spec, nic) => d.host.processes.get(spec.uuid)?.nics.has(nic.name) ?? false,
      volume: async (spec, vol) => d.host.processes.get(spec.uuid)?.volumes.has(`${vol.pool}/${vol.volume}`) ?? false,
    },
    vols,
    kill: async (spec) => d.crash(spec.uuid, { exitCode: 137 }),
    leftovers: async (spec) => [...d.host.leftovers(spec.uuid, [spec.hostIds.runDir, spec.hostIds.instanceDir]), ...[...d.host.taps].map((t) => `tap ${t}`), ...[...vols.snaps]],
    cleanup: async () => undefined,
  });
}

test('fake driver: failAt fails the nth call once, journals it, and the next call works', async () => {
  const d = new FakeInstanceDriver().failAt('start', 2);
  const ref = { uuid: 'u1', name: 'a', hostIds: { runDir: '/r', instanceDir: '/i' }, driverConfig: undefined };
  const spec: InstanceSpec = { ...ref, cpus: 1, memoryBytes: 1, root: { pool: 'p', volume: 'v', path: '/v' }, nics: [], volumes: [], networks: new Map() };
  await d.start(spec);
  await d.stop(ref, { timeoutMs: 1, force: true });
  await rejectsWith(d.start(spec), 'HostCommandFailed', /injected failure in start/);
  assert.equal((await d.status(ref)).state, 'stopped');
  await d.start(spec);
  assert.equal(d.callsOf('start').length, 3);
  assert.equal((await d.status(ref)).state, 'running');
});

test('fake driver: a requested stop and a crash emit exited events that say which', async () => {
  const d = new FakeInstanceDriver({ preset: 'container' });
  const seen: unknown[] = [];
  d.watch((e) => seen.push(e));
  const ref = { uuid: 'u2', name: 'b', hostIds: { runDir: '/r', instanceDir: '/i' }, driverConfig: undefined };
  const spec: InstanceSpec = { ...ref, cpus: 1, memoryBytes: 1, root: { pool: 'p', volume: 'v', path: '/v' }, nics: [], volumes: [], networks: new Map() };
  await d.start(spec);
  d.crash('u2', { exitCode: 3 });
  assert.deepEqual(seen, [{ type: 'exited', uuid: 'u2', exitCode: 3, requested: false }]);
  assert.equal((await d.status(ref)).exitCode, 3);
  await d.start(spec);
  await d.stop(ref, { timeoutMs: 1, force: false });
  assert.deepEqual(seen[1], { type: 'exited', uuid: 'u2', exitCode: 0, requested: true });
  d.oom('u2', 2);
  assert.equal((await d.status(ref)).oomKills, 2);
});
