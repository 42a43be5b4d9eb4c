// The StorageDriver contract: one suite, run against every driver configuration. A configuration
// says how to make its filesystems; the cases branch only on capabilities, never on the driver.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostExec } from '../../../host/exec.js';
import { NimboError, type ErrorCode } from '../../../core/errors.js';
import { createStorageDriver } from '../index.js';
import type { PoolOptions, StorageCapabilities, StorageDriver, StorageDriverName, VolumeLocation } from '../types.js';
import type { ScratchFs } from './loop-fs.js';
import { blockCases } from './contract-block.js';
import { moreCases } from './contract-more.js';

/** One driver configuration under test. */
export interface ContractTarget {
  label: string;
  driver: StorageDriverName;
  options: PoolOptions;
  /** The main scratch filesystem, and a small one for the out-of-space case. */
  scratch(kind: 'main' | 'small'): Promise<ScratchFs>;
  /** A pool spec this configuration's filesystem must refuse at initPool, and where to try it. */
  refusal: { driver: StorageDriverName; options: PoolOptions; on: () => Promise<ScratchFs>; match: RegExp };
}

/** What each contract case gets. */
export interface ContractCtx {
  exec: HostExec;
  target: ContractTarget;
  dr: StorageDriver;
  caps: StorageCapabilities;
  scratch: ScratchFs;
  /** A directory outside the pool on the same filesystem (import sources, exports, images). */
  outside: string;
  poolPath: string;
  loc(name: string): Promise<VolumeLocation>;
}

/** One named contract case. */
export interface ContractCase {
  name: string;
  run(c: ContractCtx): Promise<void>;
}

/** Assert that p rejects with a NimboError of this code (and message). */
export async function rejectsWith(p: Promise<unknown>, code: ErrorCode, match?: RegExp): Promise<NimboError> {
  let err: unknown;
  await assert.rejects(p, (e) => {
    err = e;
    return true;
  });
  assert.ok(err instanceof NimboError, `expected a NimboError, got ${String(err)}`);
  assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
  if (match) assert.match(err.message, match);
  return err;
}

export const MiB = 1024 * 1024;

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
