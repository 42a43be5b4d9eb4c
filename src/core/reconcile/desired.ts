// What the reconciler does about one instance: a pure function of its record, what the driver observes
// and why we look. Table-tested (desired.test.ts); the engine (reconciler.ts) only carries it out.
import type { InstanceStatus, DriverEvent } from '../../drivers/compute/instance-driver.js';
import type { InstanceState } from '../../shared/api-types.js';
import type { InstanceRecord } from '../instance-record.js';

/** Why a pass runs: the daemon started (same host boot), the host rebooted, a driver event, the slow resync. */
export type Why = 'daemon-start' | 'host-boot' | 'event' | 'resync';

/** The desired power state of an instance. */
export type DesiredPower = 'running' | 'stopped' | 'paused';
/** What happens after a host reboot. */
export type Autostart = 'last-state' | 'always' | 'never';

/** The action of one pass, and what to write to the record. */
export interface Decision {
  action: 'none' | 'start' | 'stop' | 'pause' | 'resume' | 'mark-stopped' | 'mark-error';
  /** The observed state to write (only when it differs from the record's). */
  state?: InstanceState;
  /** A new desired power (host boot policy, a requested exit, a live instance adopted at daemon start). */
  power?: DesiredPower;
  /** For mark-error. */
  error?: string;
  /** One line for the log. */
  reason: string;
}

/** What decide() reads of a record (driverConfig: the driver's part; version-1 records keep `container`). */
export type DecideRecord = Partial<Pick<InstanceRecord, 'name' | 'state' | 'desired' | 'container' | 'error'>> & { driverConfig?: unknown };

/** The application process of an application container (its restart policy), from either record version. */
export function appOf(rec: DecideRecord): { restart: 'never' | 'on-failure' | 'always' } | undefined {
  return rec.container?.app ?? (rec.driverConfig as { app?: { restart: 'never' | 'on-failure' | 'always' } } | undefined)?.app;
}

/** The message of a record left in 'creating' by a daemon stop (kept: tests and users know it). */
export const CREATION_INTERRUPTED = 'creation was interrupted by a daemon stop; delete and launch again';

/** The desired block of a record; version-1 records (none stored) derive it from their last state. */
export function desiredOf(rec: Pick<InstanceRecord, 'desired' | 'state'>): { power: DesiredPower; autostart: Autostart } {
  if (rec.desired) return rec.desired;
  const power: DesiredPower = rec.state === 'running' || rec.state === 'starting' ? 'running' : rec.state === 'paused' ? 'paused' : 'stopped';
  return { power, autostart: 'last-state' };
}

/** The desired power after a host reboot under an autostart policy (a paused guest's memory is gone: it boots). */
export function powerAfterBoot(d: { power: DesiredPower; autostart: Autostart }): DesiredPower {
  if (d.autostart === 'never') return 'stopped';
  if (d.autostart === 'always') return 'running';
  return d.power === 'paused' ? 'running' : d.power;
}

/**
 * Whether an exit seen without an event (daemon start, resync) was the instance's own wish: an application
 * whose restart policy does not restart it, or any instance whose main process exited 0 (guest poweroff,
 * a system container's init ending). An unknown exit code (QEMU leaves none) counts as a crash.
 */
export function exitWanted(rec: DecideRecord, exitCode: number | null | undefined): boolean {
  const app = appOf(rec);
  if (app) return app.restart === 'never' || (app.restart === 'on-failure' && exitCode === 0);
  return exitCode === 0;
}

/**
 * Decide one instance. Rules (each a row of desired.test.ts):
 * - 'creating' at daemon start or host boot: the create died with the daemon → mark-error (its operation is
 *   failed by ops.recover; a live process is stopped first). During normal running a create holds the
 *   instance's lock, so no pass sees it.
 * - 'error' stays until the user acts (start/delete), also across a host reboot (an interrupted create or a crash
 *   loop must not be retried blindly); only a live process is noted as running.
 * - host boot: the autostart policy sets the desired power first (never → stopped, always → running,
 *   last-state → as recorded).
 * - desired running, observed stopped → start, unless the exit was requested (event.requested, or without an
 *   event exitWanted()) → mark-stopped: desired becomes stopped, so a guest poweroff stays off.
 * - desired stopped, observed running/paused: at daemon start the instance is left running and adopted (desired
 *   becomes what runs). Stopping would kill a workload on the word of a record that may be stale (a daemon killed
 *   mid-operation, a migrated version-1 record), and the user can always stop it; leaving it running loses nothing.
 *   While the daemon runs, the desired state was written by this daemon's own API, so it is obeyed → stop.
 * - desired paused vs observed running → pause; desired running vs observed paused → resume (at daemon start a
 *   paused instance is adopted as paused, like a running one).
 */
export function decide(rec: DecideRecord & Pick<InstanceRecord, 'state'>, status: InstanceStatus, why: Why, event?: DriverEvent): Decision {
  const observed = status.state;
  const live = observed !== 'stopped';
  const startup = why === 'daemon-start' || why === 'host-boot';
  const note = (s: InstanceState): InstanceState | undefined => (rec.state === s ? undefined : s);

  if (rec.state === 'creating') {
    if (!startup) return { action: 'none', reason: 'being created' };
    return { action: 'mark-error', state: 'error', error: CREATION_INTERRUPTED, reason: 'creation was interrupted' };
  }
  const d = desiredOf(rec);
  const power = why === 'host-boot' ? powerAfterBoot(d) : d.power;
  const changed = (p: DesiredPower) => (p !== d.power || !rec.desired ? p : undefined);

  if (rec.state === 'error') {
    return live ? { action: 'none', state: observed, reason: 'in error, but it runs' } : { action: 'none', reason: 'in error: left for the user' };
  }
  if (startup && live && power !== observed) {
    // Adopt what runs (see above); the record follows reality.
    return { action: 'none', state: note(observed), power: observed, reason: `found ${observed} at daemon start: adopted` };
  }

  if (power === 'stopped') {
    if (live) return { action: 'stop', state: 'stopping', ...(changed('stopped') ? { power: 'stopped' } : {}), reason: 'desired stopped' };
    return { action: 'none', ...(note('stopped') ? { state: 'stopped' } : {}), ...(changed('stopped') ? { power: 'stopped' } : {}), reason: 'stopped as desired' };
  }
  if (!live) {
    const requested = event?.type === 'exited' ? event.requested : exitWanted(rec, status.exitCode);
    // After a host reboot nothing ran, whatever the last exit said: the policy decides.
    if (requested && why !== 'host-boot') return { action: 'mark-stopped', state: 'stopped', power: 'stopped', reason: 'it stopped by itself (requested exit)' };
    return { action: 'start', ...(changed(power) ? { power } : {}), reason: why === 'host-boot' ? 'host booted; autostart' : 'desired running, found stopped' };
  }
  if (power === 'paused' && observed === 'running') return { action: 'pause', reason: 'desired paused' };
  if (power === 'running' && observed === 'paused') return { action: 'resume', reason: 'desired running, found paused' };
  return { action: 'none', ...(note(observed) ? { state: observed } : {}), ...(changed(power) ? { power } : {}), reason: `${observed} as desired` };
}

/** Backoff before the nth consecutive restart (n ≥ 1): 1 s, 2 s, 4 s … capped at 60 s; the first restart after a stable run waits 0. */
export function restartDelayMs(failures: number): number {
  if (failures <= 0) return 0;
  return Math.min(60_000, 1000 * 2 ** (failures - 1));
}

/** Failed starts (or crashes right after a start) in a row before the instance is left in 'error'. */
export const MAX_FAILED_STARTS = 5;
/** A run shorter than this after our restart counts as a failed start. */
export const STABLE_RUN_MS = 10_000;
