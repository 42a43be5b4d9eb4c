// What VPS actions are built from: ports onto the instance services they reuse (no copies of their logic).
import type { InstanceActions } from './instance-actions.js';
import type { InstanceExec } from './instance-exec.js';
import type { InstanceProvisioner } from './instance-provision.js';
import type { InstanceRepo } from './instance-repo.js';
import type { InstanceRuntime } from './instance-runtime.js';
import type { InstanceUpdate } from './instance-update.js';
import type { InstanceViews } from './instance-view.js';
import type { InstanceVolumes } from './instance-volumes.js';
import type { InstanceNics } from './instance-nics.js';

/** A plan's size as resize needs it (the plans service implements it; the daemon wires it). */
export interface PlanLookup {
  get(name: string): Promise<{ vcpus: number; memoryMiB: number; diskGiB: number; class?: 'shared' | 'dedicated'; network?: { inMbit?: number; outMbit?: number } } | undefined>;
}

/** What VPS actions are built from: the instance services they reuse (small ports, no copies of their logic). */
export interface VpsActionDeps {
  runtime: InstanceRuntime;
  repo: InstanceRepo;
  views: InstanceViews;
  provisioner: InstanceProvisioner;
  actions: InstanceActions;
  update: Pick<InstanceUpdate, 'patch' | 'rename'> & Partial<Pick<InstanceUpdate, 'growLive'>>;
  volumes: Pick<InstanceVolumes, 'patchVolume'>;
  exec: Pick<InstanceExec, 'exec'>;
  /** Plans by name (the plans service); without it `resize { plan }` is refused. */
  plans?: PlanLookup;
  /** NIC limits (a resize to a plan gives the NICs the plan's bandwidth); without it they stay. */
  nics?: Pick<InstanceNics, 'patch'>;
}
