/** The types and helpers every storage contract case file shares. */
import assert from 'node:assert/strict';
import type { HostExec } from '../../../host/exec.js';
import { NimboError, type ErrorCode } from '../../../lib/errors.js';
import type { PoolOptions, StorageCapabilities, StorageDriver, StorageDriverName, VolumeLocation } from '../types.js';
import type { ScratchFs } from './loop-fs.js';

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

/** One mebibyte. */
export const MiB = 1024 * 1024;
