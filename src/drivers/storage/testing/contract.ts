// The StorageDriver contract: one suite, run against every driver configuration. A configuration
// says how to make its filesystems; the cases branch only on capabilities, never on the driver.
import { after, before, describe, test } from 'node:test';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostExec } from '../../../host/exec.js';
import { createStorageDriver } from '../index.js';
import type { ContractCtx, ContractTarget } from './contract-kit.js';
import { blockCases } from './contract-block.js';
import { moreCases } from './contract-more.js';

export { MiB, rejectsWith, type ContractCase, type ContractCtx, type ContractTarget } from './contract-kit.js';

/** Register the whole contract suite for one configuration. */
export function storageContract(target: ContractTarget, exec: HostExec): void {
  const skip = process.getuid?.() !== 0 ? 'needs root (loop devices, mounts, btrfs subvolumes)' : false;
  describe(`storage contract: ${target.label}`, { skip }, () => {
    const ctx = { exec, target } as ContractCtx;
    before(async () => {
      ctx.scratch = await target.scratch('main');
      ctx.poolPath = join(ctx.scratch.dir, 'pool');
      ctx.outside = join(ctx.scratch.dir, 'outside');
      await mkdir(ctx.outside);
      ctx.dr = createStorageDriver({ name: 'qs-pool', driver: target.driver, path: ctx.poolPath, options: target.options }, { exec });
      await ctx.dr.initPool();
      ctx.caps = await ctx.dr.capabilities();
      ctx.loc = (name) => ctx.dr.volumePath(name);
    });
    after(async () => {
      await ctx.scratch?.cleanup();
    });
    for (const c of [...blockCases, ...moreCases]) test(c.name, () => c.run(ctx));
  });
}
