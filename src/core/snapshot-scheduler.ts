import { parseCron, nextFire } from '../lib/cron.js';
import type { InstanceRepo } from './instance-repo.js';
import { projectOfRecord } from './instance-record.js';
import { InstanceSnapshots, snapshotName } from './instance-snapshots.js';
import type { Logger } from '../lib/log.js';

/** An instance's snapshot schedule (kept in its record). */
export interface SnapshotSchedule {
  /** 5-field cron (UTC, names like MON and JAN allowed) or @hourly/@daily/@weekly/@monthly/@yearly. */
  cron: string;
  /** How long scheduled snapshots are kept: 30m, 12h, 7d, 2w. */
  expiry?: string;
  stateful?: boolean;
  /** When the schedule was last checked (ISO 8601). */
  lastRun: string;
}

/** A schedule as the API shows it: the stored one plus when it fires next. */
export interface SnapshotScheduleView extends SnapshotSchedule {
  /** The next minute the schedule fires (ISO 8601), within a year from now. */
  nextRun?: string;
}

/** The schedule with its next run: the first firing after both the last check and `now`. */
export function scheduleView(sched: SnapshotSchedule, now = new Date()): SnapshotScheduleView {
  const last = new Date(sched.lastRun);
  const from = last > now ? last : now;
  const next = nextFire(parseCron(sched.cron), from, new Date(from.getTime() + 367 * 86_400_000));
  return { ...sched, ...(next ? { nextRun: next.toISOString() } : {}) };
}

/** Runs every instance's snapshot schedule and removes expired snapshots. */
export class SnapshotScheduler {
  private timer?: NodeJS.Timeout;
  constructor(private svc: Pick<InstanceRepo, 'allRecords' | 'patch'>, private snaps: InstanceSnapshots, private log: Logger) {}

  /** Check schedules every `ms`. */
  start(ms = 15_000): void {
    this.timer = setInterval(() => void this.tick().catch((e) => this.log.warn({ err: String(e) }, 'snapshot schedule failed')), ms);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** One pass: take due snapshots, drop expired ones. */
  async tick(now = new Date()): Promise<void> {
    for (const rec of await this.svc.allRecords()) {
      const project = projectOfRecord(rec);
      const sched = rec.snapshotSchedule;
      if (sched && rec.state !== 'creating') {
        const due = nextFire(parseCron(sched.cron), new Date(sched.lastRun), now);
        if (due) {
          await this.svc.patch(project, rec.name, (cur) => (cur.snapshotSchedule ? { snapshotSchedule: { ...cur.snapshotSchedule, lastRun: now.toISOString() } } : {}));
          const expiresAt = sched.expiry ? new Date(now.getTime() + InstanceSnapshots.parseDuration(sched.expiry)).toISOString() : undefined;
          const live = rec.state === 'running' || rec.state === 'paused';
          await this.snaps.create(project, rec.name, { name: snapshotName('auto', now), stateful: !!sched.stateful && live, expiresAt, scheduled: true });
        }
      }
      for (const snap of await this.snaps.list(project, rec.name)) {
        if (snap.expiresAt && snap.expiresAt <= now.toISOString()) await this.snaps.remove(project, rec.name, snap.name);
      }
    }
  }
}
