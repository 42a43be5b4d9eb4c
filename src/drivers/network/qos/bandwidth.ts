import { HostCommandError, notFound } from '../../../lib/errors.js';
import type { HostExec } from '../../../host/exec.js';
import { validateIfName } from '../validate.js';
import {
  ABSENT_ERROR,
  findOrphanIfbs,
  ifbNameFor,
  linkShowArgv,
  normalizeLimits,
  parseBandwidth,
  parseLinkKind,
  parseTapQdiscs,
  qdiscShowArgv,
  renderBandwidth,
  renderClear,
  type BandwidthLimits,
  type QosState,
  type QosStep,
} from './tc-render.js';

// Applies the plans of tc-render.ts on the host. Callers serialize calls for one tap (two concurrent applies
// to the same tap may both try to create its ifb).

export type { BandwidthLimits } from './tc-render.js';

/** Set a tap's limits (bit/s, guest's view; absent/0 = unlimited), replacing earlier ones. NotFound when the tap is missing. */
export async function applyBandwidth(exec: HostExec, tap: string, limits: BandwidthLimits): Promise<void> {
  validateIfName(tap, 'tap name');
  normalizeLimits(limits); // refuse bad limits before touching anything
  const tapQdiscs = await show(exec, qdiscShowArgv(tap));
  if (tapQdiscs === null) throw notFound(`tap ${tap}`);
  await runSteps(exec, renderBandwidth(tap, limits, await state(exec, tap, tapQdiscs)));
}

/** Remove every limit of a tap, its ifb included. No error when nothing is set or the tap is already gone. */
export async function clearBandwidth(exec: HostExec, tap: string): Promise<void> {
  validateIfName(tap, 'tap name');
  await runSteps(exec, renderClear(tap, await state(exec, tap, await show(exec, qdiscShowArgv(tap)))));
}

/** The limits in force on a tap as read back from the kernel; null when the tap does not exist. */
export async function readBandwidth(exec: HostExec, tap: string): Promise<BandwidthLimits | null> {
  validateIfName(tap, 'tap name');
  const t = await show(exec, qdiscShowArgv(tap));
  if (t === null) return null;
  const ifb = ifbNameFor(tap);
  const i = parseLinkKind(await show(exec, linkShowArgv(ifb))) === 'ifb' ? await show(exec, qdiscShowArgv(ifb)) : null;
  return parseBandwidth(t, i);
}

/** Delete nimbo's ifb devices whose tap is gone (e.g. a tap deleted without clearBandwidth); returns their names. */
export async function sweepOrphanIfbs(exec: HostExec): Promise<string[]> {
  const r = await exec.run(['ip', '-j', '-d', 'link', 'show']);
  const orphans = findOrphanIfbs(r.stdout);
  await runSteps(exec, orphans.map((d) => ({ argv: ['ip', 'link', 'del', 'dev', d], mayBeAbsent: true })));
  return orphans;
}

/** stdout of a show command; null when it says the device does not exist. */
async function show(exec: HostExec, argv: string[]): Promise<string | null> {
  const r = await exec.run(argv, { allowFailure: true });
  if (r.code === 0) return r.stdout;
  if (/Cannot find device|does not exist/i.test(r.stderr)) return null;
  throw new HostCommandError(argv, r.code, r.stderr);
}

async function state(exec: HostExec, tap: string, tapQdiscs: string | null): Promise<QosState> {
  return { ...parseTapQdiscs(tapQdiscs), ifb: parseLinkKind(await show(exec, linkShowArgv(ifbNameFor(tap)))) };
}

async function runSteps(exec: HostExec, steps: QosStep[]): Promise<void> {
  for (const s of steps) {
    const r = await exec.run(s.argv, { allowFailure: true });
    if (r.code !== 0 && !(s.mayBeAbsent && ABSENT_ERROR.test(r.stderr))) throw new HostCommandError(s.argv, r.code, r.stderr);
  }
}
