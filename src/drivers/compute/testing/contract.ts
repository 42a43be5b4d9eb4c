// The InstanceDriver contract: one suite, run against the fake (unit test) and against every real driver
// (system tests). A target says how to make an instance for its driver; the cases walk one instance
// through its whole life and branch only on capabilities.
import { after, before, describe, test } from 'node:test';
import { randomUUID } from 'node:crypto';
import type { InstanceContractCtx, InstanceContractTarget } from './contract-kit.js';
import { lifeCases } from './contract-cases.js';

export { rejectsWith, until, type InstanceContractCase, type InstanceContractCtx, type InstanceContractTarget } from './contract-kit.js';

/** Register the whole contract suite for one driver target. */
export function instanceDriverContract(target: InstanceContractTarget): void {
  describe(`instance driver contract: ${target.label}`, { skip: target.skip ?? false }, () => {
    const uuid = randomUUID();
    const ctx = { t: target, events: [], ids: new Map() } as unknown as InstanceContractCtx;
    let unwatch: (() => void) | undefined;
    let next = 1000;
    before(async () => {
      ctx.d = await target.driver();
      unwatch = ctx.d.watch((ev) => ctx.events.push(ev));
      const name = `contract-${uuid.slice(0, 8)}`;
      // The spec before plan(): host ids and resources only; the case that plans replaces it.
      ctx.spec = await target.spec({ uuid, name, hostIds: target.hostIds(uuid), driverConfig: undefined });
      ctx.planInput = () => ({
        uuid,
        name,
        image: 'contract',
        ...target.planInput?.({ uuid, name }),
        allocateId: async (kind) => {
          const id = target.allocateId ? await target.allocateId(kind) : next++;
          ctx.ids.set(`${kind}/${id}`, { kind, id });
          return id;
        },
        releaseId: async (kind, id) => {
          ctx.ids.delete(`${kind}/${id}`);
          await target.releaseId?.(kind, id);
        },
      });
    });
    after(async () => {
      unwatch?.();
      // Whatever a failed case left: the instance goes, then the target's own objects.
      if (ctx.d && ctx.spec) await ctx.d.destroy(ctx.spec, ctx.spec.nics, { path: ctx.spec.root.path }).catch(() => undefined);
      ctx.d?.close();
      await target.cleanup();
    });
    for (const c of lifeCases) test(c.name, { timeout: target.timeoutMs ?? 60_000 }, () => c.run(ctx));
  });
}
