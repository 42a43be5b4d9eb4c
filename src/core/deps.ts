import type { HostExec } from '../host/exec.js';
import type { Store } from '../store/store.js';
import type { DaemonConfig, StatePaths } from './config.js';
import type { EventBus } from './events.js';
import type { Logger } from '../lib/log.js';
import type { OperationManager } from './operations.js';

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
}
