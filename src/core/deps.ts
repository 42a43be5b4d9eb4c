import type { HostExec } from '../host/exec.js';
import type { Store } from '../store/store.js';
import type { DaemonConfig, StatePaths } from './config.js';
import type { EventBus } from './events.js';
import type { Logger } from '../lib/log.js';
import type { OperationManager } from './operations.js';
import type { QuotaField } from '../shared/plan-types.js';

/** The accelerator chosen at start-up and why. */
export interface AccelChoice {
  accelerator: 'kvm' | 'tcg';
  reason: string;
}

/** Shared plumbing every core service is built from. */
export interface BaseDeps {
  config: DaemonConfig;
  paths: StatePaths;
  store: Store;
  ops: OperationManager;
  events: EventBus;
  log: Logger;
  exec: HostExec;
  /** Project quotas of networks, floating IPs and snapshots (core/quota/admission.ts); absent: nothing is counted. */
  quota?: QuotaPort;
}

/** Records counted against a project's quota: written and deleted in one transaction with its usage. */
export interface QuotaPort {
  /** QuotaExceeded when `counts` more would not fit now (a fast early answer; putCharged is the binding one). */
  check(project: string, counts: Partial<Record<QuotaField, number>>): Promise<void>;
  /** Write `value` at `key` and charge `counts` to `project`; with `exists`, Conflict(exists) when the key is taken. */
  putCharged(key: string, value: unknown, project: string, counts: Partial<Record<QuotaCountField, number>>, exists?: string): Promise<void>;
  /** Delete `key` and give back what it was charged. */
  deleteCharged(key: string): Promise<void>;
  /** Set the charge under `id` to `next(current)` (undefined: none); QuotaExceeded when a rise does not fit. */
  recharge(id: string, project: string, next: (cur: Partial<Record<QuotaField, number>> | undefined) => Partial<Record<QuotaField, number>> | undefined): Promise<void>;
  /** Keep the charge under `from` under `to` instead. */
  moveCharge(from: string, to: string): Promise<void>;
}

/** What QuotaPort counts besides instances. */
export type QuotaCountField = 'networks' | 'floatingIps' | 'snapshots';
