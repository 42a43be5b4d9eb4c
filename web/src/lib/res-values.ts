// Pure conversions between the resource pages' form fields and the API's bodies (unit-tested in
// test/web/res-values.test.ts): empty fields are left out so the API's defaults apply.
import type { ForwardCreate, SecurityRule } from '../../../src/shared/network-types.js';
import type { RetentionPolicy } from '../../../src/shared/backup-types.js';

/** A number from a form field, or undefined when it is empty or not a number (the API's default applies). */
export function num(text: string): number | undefined {
  const t = text.trim();
  if (!t) return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/** A size as exact text the API takes back ("10GiB", "96MiB", or bytes): prefilled resize fields lose nothing. */
export function exactSize(n: number): string {
  for (const [unit, mult] of [['TiB', 1024 ** 4], ['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (n >= mult && n % mult === 0) return `${n / mult}${unit}`;
  }
  return String(n);
}

/** A retention policy in words: "last 7, daily 14"; none: "all". */
export function keepText(k?: RetentionPolicy): string {
  if (!k) return 'all';
  return Object.entries(k).map(([a, n]) => `${a.replace('keep', '').toLowerCase()} ${n}`).join(', ') || 'all';
}

/** A datetime-local field (local time) as an ISO time, or undefined when empty or invalid. */
export function localToIso(local: string): string | undefined {
  if (!local) return undefined;
  const t = new Date(local);
  return Number.isNaN(t.getTime()) ? undefined : t.toISOString();
}

/** An audit entry's route with its parameters filled in: "/api/v1/networks/:name" -> "/api/v1/networks/web". */
export function auditCall(route: string, params?: Record<string, unknown>): string {
  return route.replace(/:([A-Za-z0-9_]+)/g, (m, k: string) => (params && params[k] !== undefined ? String(params[k]) : m));
}

/** The port-forward form as the API's body; without a listen port it asks for a floating IP. */
export function forwardBody(f: { listenAddress: string; protocol: string; listenPort: string; listenPortEnd: string; instance: string; nic: string; targetPort: string; description: string }): ForwardCreate {
  const body: ForwardCreate = { listenAddress: f.listenAddress.trim(), instance: f.instance.trim() };
  const port = num(f.listenPort);
  if (port !== undefined) {
    body.protocol = f.protocol === 'udp' ? 'udp' : 'tcp';
    body.listenPort = port;
    const end = num(f.listenPortEnd);
    if (end !== undefined) body.listenPortEnd = end;
  }
  const target = num(f.targetPort);
  if (target !== undefined) body.targetPort = target;
  if (f.nic.trim()) body.nic = f.nic.trim();
  if (f.description.trim()) body.description = f.description.trim();
  return body;
}

/** The rule form as one rule: the peer is the source of an ingress rule, the destination of an egress one. */
export function ruleBody(r: { direction: string; protocol: string; ports: string; peer: string; description: string }): SecurityRule {
  const rule: SecurityRule = { direction: r.direction === 'egress' ? 'egress' : 'ingress', protocol: r.protocol as SecurityRule['protocol'] };
  if (r.ports.trim() && (rule.protocol === 'tcp' || rule.protocol === 'udp')) rule.ports = r.ports.trim();
  if (r.peer.trim()) rule[rule.direction === 'ingress' ? 'source' : 'destination'] = r.peer.trim();
  if (r.description.trim()) rule.description = r.description.trim();
  return rule;
}

/** Only the fields of `now` that differ from `before` (a PATCH changes nothing else); numbers for `numeric` keys. */
export function changed(before: Record<string, string>, now: Record<string, string>, numeric: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(now)) {
    if (v === before[k]) continue;
    if (numeric.includes(k)) {
      const n = num(v);
      if (n !== undefined) out[k] = n;
    } else out[k] = v.trim();
  }
  return out;
}
