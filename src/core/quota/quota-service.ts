// Project quotas: the limits an admin sets (/quotas/<project>) and the usage counters admission keeps.
import { validateName } from '../../lib/validate.js';
import { casUpdate } from '../../store/cas.js';
import { keys } from '../../store/keys.js';
import type { Store } from '../../store/store.js';
import { QUOTA_FIELDS, type Quota, type QuotaLimits } from '../../shared/plan-types.js';
import { usageOf, type Usage } from './quota.js';

/** Read and set project quotas. */
export class QuotaService {
  constructor(private store: Store) {}

  /** A project's limits (null = unlimited) and usage. */
  async show(project: string): Promise<Quota> {
    validateName(project, 'project name');
    const limits = (await this.store.get<QuotaLimits>(keys.quota(project)))?.value ?? {};
    const usage = usageOf((await this.store.get<Partial<Usage>>(keys.quotaUsage(project)))?.value);
    return { project, limits: Object.fromEntries(QUOTA_FIELDS.map((f) => [f, limits[f] ?? null])) as Quota['limits'], usage };
  }

  /** Change the fields given (null: unlimited); a limit below the usage only stops new things, nothing is removed. */
  async set(project: string, change: QuotaLimits): Promise<Quota> {
    validateName(project, 'project name');
    await casUpdate<QuotaLimits>(this.store, keys.quota(project), (cur) => {
      const next: QuotaLimits = { ...cur };
      for (const f of QUOTA_FIELDS) {
        if (!(f in change)) continue;
        const v = change[f];
        if (v === null || v === undefined) delete next[f];
        else next[f] = v;
      }
      return next;
    });
    return this.show(project);
  }
}
