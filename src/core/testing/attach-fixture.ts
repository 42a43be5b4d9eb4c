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
import { InstanceService } from '../instance-service.js';
import type { InstanceDeps } from '../instance-ports.js';
import { StorageService } from '../storage-service.js';
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
  const compute = { state: async () => 'stopped' as const };
  // The VM side of a plug/unplug: a stopped VM needs no QMP, only the disk's owner (done by exec, faked above).
  const vms = { plugVolume: async () => undefined, unplugVolume: async () => undefined };
  const d = { config: { stateDir: dir, prefix: 'nt' }, paths, store, ops, events, log, exec, compute, vms } as unknown as InstanceDeps;
  const svc = new InstanceService(d);
  const storage = new StorageService(d);
  const info = (name: string): VolumeInfo => ({ name, kind: 'block', format: 'qcow2', virtualSizeBytes: 1 << 20, allocatedBytes: 0, snapshots: 0, linked: false });
  const deleted: string[] = [];
  const driver = {
    volumeInfo: async (n: string) => info(n),
    volumePath: async (n: string) => ({ type: 'file', path: join(dir, n), format: 'qcow2' }),
    deleteVolume: async (n: string) => void deleted.push(n),
  } as unknown as StorageDriver;
  storage.driver = async () => driver;
  svc.storageService = storage;
  const volumes = new InstanceVolumes(svc, storage);
  svc.volumes = volumes;
  const names = Array.from({ length: count }, (_, i) => `vm${i}`);
  for (const name of names) {
    const rec: InstanceRecord = { name, uuid: `u-${name}`, type: 'vm', image: 'tiny', cpus: 1, memory: 64 << 20, disk: 1 << 30, sshKeys: [], state: 'stopped', accelerator: 'tcg', nics: [], volumes: [], createdAt: new Date().toISOString() };
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
