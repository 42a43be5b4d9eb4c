// The API view of an instance: its record, the live pid and usage from its driver, NIC counters.
import { readCounters } from '../drivers/network/qos/counters.js';
import type { Instance } from '../shared/api-types.js';
import { toInstance, type InstanceRecord } from './instance-record.js';
import type { InstanceRuntime } from './instance-runtime.js';

/** Builds API views of records. */
export class InstanceViews {
  constructor(private runtime: InstanceRuntime) {}

  /** The API view, with the live pid, usage and NIC counters; `agent`: what a running VM's guest agent reports too. */
  async view(rec: InstanceRecord, opts: { agent?: boolean } = {}): Promise<Instance> {
    const live = rec.state === 'running' || rec.state === 'paused';
    const st = live ? await this.runtime.status(rec, { usage: true }).catch(() => undefined) : undefined;
    const v = toInstance(rec, st?.state === 'stopped' ? null : (st?.pid ?? null));
    // Live counters win over the last recorded ones (the reconciler records them on its passes).
    const oom = Math.max(st?.oomKills ?? 0, v.oomKills ?? 0);
    // What only the driver reads from its own config (a VM's firmware).
    let more = {};
    try {
      more = this.runtime.driverOf(rec).describe?.(this.runtime.refOf(rec)) ?? {};
    } catch {
      // Its driver is not available on this host: the view goes without those fields.
    }
    const ga = this.runtime.driverOf(rec).guestAgent;
    const agent = opts.agent && ga && st?.state === 'running' ? await ga.status(this.runtime.refOf(rec)).catch(() => ({ available: false })) : undefined;
    return withCounters({ ...v, ...more, ...(st?.usage ? { usage: st.usage } : {}), ...(oom ? { oomKills: oom } : {}), ...(agent ? { agent } : {}) });
  }
}

/** Counters of each NIC whose host end exists (the instance runs). */
export async function withCounters(view: Instance): Promise<Instance> {
  const nics = await Promise.all(
    view.nics.map(async (n) => {
      const c = view.pid !== null ? await readCounters(n.tap) : null;
      return c ? { ...n, counters: c } : n;
    }),
  );
  return { ...view, nics };
}
