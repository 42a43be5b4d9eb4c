// Test fixture: the real InstanceService, StorageService and InstanceVolumes over a real SqliteStore in a temp
// dir; only the host side (compute state, the pool driver, exec) is faked. Stopped VMs: attach does no host work.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../store/sqlite/sqlite-store.js';
import { EventBus } from '../events.js';
import { silentLogger } from '../../lib/log.js';
import { OperationManager } from '../operations.js';
import { statePaths } from '../config.js';
import { InstanceRepo } from '../instance-repo.js';
import { InstanceRuntime, type RuntimeDeps } from '../instance-runtime.js';
import { StorageService } from '../storage-service.js';
import { DriverRegistry } from '../../drivers/compute/registry.js';
import { FakeInstanceDriver } from '../../drivers/compute/testing/fake-driver.js';
import { newHostIds } from '../host-ids.js';
import { InstanceVolumes } from '../instance-volumes.js';
import { instanceKey, type InstanceRecord } from '../instance-record.js';
import type { StorageDriver, VolumeInfo } from '../../drivers/storage/types.js';

/** `count` stopped VMs (vm0..) and one block volume `default/data`, wired like the daemon does. */
export async function attachFixture(count: number, opts: { failPatchFor?: string } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-attach-'));
  const paths = statePaths(dir);
  const store = new SqliteStore(paths.db);
  const events = new EventBus();
  const log = silentLogger();
  const ops = new OperationManager(store, events, log);
  const exec = { run: async () => ({ stdout: '', stderr: '', code: 0 }) };
  const d = { config: { stateDir: dir, prefix: 'nt' }, paths, store, ops, events, log, exec } as unknown as RuntimeDeps;
  const storage = new StorageService(d);
  // The VM side of a plug/unplug: the fake driver (its VMs are stopped: no host work).
  const driver = new FakeInstanceDriver({ preset: 'vm', name: 'qemu' });
  const runtime = new InstanceRuntime({ ...d, storage, drivers: DriverRegistry.of(driver) });
  const svc = new InstanceRepo(store, events);
  const info = (name: string): VolumeInfo => ({ name, kind: 'block', format: 'qcow2', virtualSizeBytes: 1 << 20, allocatedBytes: 0, snapshots: 0, linked: false });
  const deleted: string[] = [];
  const poolDriver = {
    volumeInfo: async (n: string) => info(n),
    volumePath: async (n: string) => ({ type: 'file', path: join(dir, n), format: 'qcow2' }),
    deleteVolume: async (n: string) => void deleted.push(n),
  } as unknown as StorageDriver;
  storage.driver = async () => poolDriver;
  const volumes = new InstanceVolumes(runtime, svc, storage);
  const names = Array.from({ length: count }, (_, i) => `vm${i}`);
  for (const name of names) {
    const uuid = `00000000-0000-4000-8000-${String(names.indexOf(name)).padStart(12, '0')}`;
    const rec: InstanceRecord = { v: 2, name, uuid, type: 'vm', driver: 'qemu', hostIds: newHostIds(paths, 'nt', uuid), desired: { power: 'stopped', autostart: 'last-state' }, description: '', image: 'tiny', cpus: 1, memory: 64 << 20, disk: 1 << 30, sshKeys: [], state: 'stopped', accelerator: 'tcg', nics: [], root: { pool: 'default', volume: `root-${uuid}` }, volumes: [], createdAt: new Date().toISOString() };
    await store.put(instanceKey(name), rec);
  }
  if (opts.failPatchFor) {
    // The attach operation's last step (the record write) fails for one instance: its claim must be given back.
    const patch = svc.patch.bind(svc);
    svc.patch = async (name, change) => (name === opts.failPatchFor ? Promise.reject(new Error('record write failed')) : patch(name, change));
  }
  return {
    dir, store, ops, svc, storage, volumes, names, deleted,
    done: async () => {
      await ops.drain();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
