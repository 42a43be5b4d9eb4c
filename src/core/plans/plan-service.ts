// Plans: platform-wide records at /plans/<name>, readable by everyone, changed by operators. A plan an
// instance was launched with cannot be deleted (its instances still say what they were sold).
import { conflict, NimboError, notFound } from '../../lib/errors.js';
import { validateName } from '../../lib/validate.js';
import { casUpdate } from '../../store/cas.js';
import { keys } from '../../store/keys.js';
import type { Store } from '../../store/store.js';
import type { Plan, PlanCreate, PlanPatch } from '../../shared/plan-types.js';
import { BUILTIN_PLANS, newPlanRecord, patchPlanRecord, toPlan, type PlanRecord } from './plan-record.js';

/** Plans: list, show, create, change, delete; built-ins seeded once. */
export class PlanService {
  constructor(private store: Store) {}

  /** Seed the built-in plans at the first start only (a deleted built-in stays deleted). */
  async seed(): Promise<void> {
    if (await this.store.get(keys.plansSeeded)) return;
    for (const p of BUILTIN_PLANS) {
      await this.store.put(keys.plan(p.name), newPlanRecord(p, true), { expectRevision: 0 }).catch((e: unknown) => {
        if (!(e instanceof NimboError && e.code === 'Conflict')) throw e; // an operator's plan of that name wins
      });
    }
    await this.store.put(keys.plansSeeded, { at: new Date().toISOString() });
  }

  /** Every plan, by name. */
  async list(): Promise<Plan[]> {
    return (await this.store.list<PlanRecord>(keys.plans)).map((kv) => toPlan(kv.value)).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** One plan's record; NotFound names the plans there are. */
  async record(name: string): Promise<PlanRecord> {
    validateName(name, 'plan name');
    const kv = await this.store.get<PlanRecord>(keys.plan(name));
    if (!kv) {
      const names = (await this.list()).map((p) => p.name);
      throw new NimboError('NotFound', `plan ${name} not found (plans: ${names.join(', ') || 'none'})`);
    }
    return kv.value;
  }

  async show(name: string): Promise<Plan> {
    return toPlan(await this.record(name));
  }

  /** Create a plan; Conflict when the name is taken. */
  async create(req: PlanCreate): Promise<Plan> {
    validateName(req.name, 'plan name');
    const rec = newPlanRecord(req);
    try {
      await this.store.put(keys.plan(rec.name), rec, { expectRevision: 0 });
    } catch (e) {
      if (e instanceof NimboError && e.code === 'Conflict') throw conflict(`plan ${rec.name} already exists`);
      throw e;
    }
    return toPlan(rec);
  }

  /** Change a plan (compare-and-swap); instances launched with it keep the sizes and limits they got. */
  async update(name: string, patch: PlanPatch): Promise<Plan> {
    validateName(name, 'plan name');
    const res = await casUpdate<PlanRecord>(this.store, keys.plan(name), (cur) => {
      if (!cur) throw notFound(`plan ${name}`);
      return patchPlanRecord(cur, patch);
    });
    return toPlan(res!.value);
  }

  /** Delete a plan no instance uses (Conflict names them). */
  async delete(name: string): Promise<void> {
    const kv = await this.store.get<PlanRecord>(keys.plan(name));
    if (!kv) throw notFound(`plan ${name}`);
    const users = (await this.store.list<{ name: string; plan?: string }>(keys.allInstances)).filter((r) => r.value.plan === name).map((r) => r.value.name);
    if (users.length) throw conflict(`plan ${name} is used by ${users.length} instance(s) (${users.slice(0, 5).join(', ')}${users.length > 5 ? ', ...' : ''}): delete them first`);
    if (!(await this.store.delete(keys.plan(name), { expectRevision: kv.modRevision }).catch(() => false))) throw conflict(`plan ${name} changed meanwhile: try again`);
  }
}
