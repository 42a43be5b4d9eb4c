// VPS actions over the core fixture: the real services the daemon gives them (InstanceUpdate with store
// locks, InstanceExec, InstanceVolumes), and a second ready image to rebuild from.
import { keys } from '../../store/keys.js';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BuiltImage } from '../../images/types.js';
import { legacyHostIds } from '../host-ids.js';
import { InstanceExec } from '../instance-exec.js';
import { InstanceUpdate } from '../instance-update.js';
import { StoreLocks } from '../locks.js';
import { VpsActions, type PlanLookup } from '../vps-actions.js';
import { TINY_BYTES, type CoreFixture } from './core-fixture.js';

const built = new WeakMap<CoreFixture, VpsActions>();
const updates = new WeakMap<CoreFixture, InstanceUpdate>();

/** The InstanceUpdate of a fixture (one per fixture), charging the fixture's quotas like the daemon's. */
export function updateOf(t: CoreFixture): InstanceUpdate {
  let u = updates.get(t);
  if (!u) {
    u = new InstanceUpdate({
      store: t.store,
      locks: new StoreLocks(t.store),
      refreshNetwork: (project, net) => t.network.refreshReservations(project, net),
      applyFirewall: () => t.firewall.apply(),
      publish: (type, target, data, project) => t.events.publish(type, target, data, project),
      legacyHostIds: (name) => legacyHostIds(t.paths, 'nt', name),
      log: t.runtime.d.log,
      daemonId: t.ops.daemonId,
      busyWaitMs: 2000,
      quota: t.admission,
    });
    updates.set(t, u);
  }
  return u;
}

/** The VpsActions of a fixture (one per fixture), with `plans` when given. */
export function vpsOf(t: CoreFixture, plans?: PlanLookup): VpsActions {
  const have = built.get(t);
  if (have && !plans) return have;
  const update = updateOf(t);
  const vps = new VpsActions({
    runtime: t.runtime, repo: t.repo, views: t.views, provisioner: t.provisioner, actions: t.actions,
    update, volumes: t.volumes, nics: t.nics, exec: new InstanceExec(t.runtime), ...(plans ? { plans } : {}),
  });
  built.set(t, vps);
  return vps;
}

/** Add a second ready image `name` (a disk and an unpacked tree, like the fixture's tiny). */
export async function addImage(t: CoreFixture, name: string, bytes = TINY_BYTES): Promise<void> {
  const dir = join(t.paths.images, name);
  mkdirSync(join(dir, 'rootfs.tree', 'root'), { recursive: true });
  const img: BuiltImage = { name, dir, disk: join(dir, 'disk.qcow2'), format: 'qcow2', virtualSizeBytes: bytes, boot: { kind: 'disk' }, os: 'test' };
  await t.store.put(keys.image(name), { name, source: 'import', status: 'ready', createdAt: new Date().toISOString(), built: img });
}
