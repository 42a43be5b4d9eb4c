// Where a webhook may send (SSRF guard). A tenant chooses the URL, and nimbod sends from the host,
// which reaches every instance network, its own loopback API and the metadata service: so by default
// only public addresses are allowed. The check runs on every delivery against the addresses the
// connection then uses (no second DNS answer in between: the connection is pinned to them).
import { BlockList, isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import { invalid } from '../../lib/errors.js';

/** Addresses a webhook may not reach unless the daemon allows internal targets. */
function internalRanges(): BlockList {
  const b = new BlockList();
  for (const [net, bits] of [
    ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
    ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
  ] as const) b.addSubnet(net, bits, 'ipv4');
  for (const [net, bits] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['64:ff9b::', 96]] as const) b.addSubnet(net, bits, 'ipv6');
  return b;
}
const INTERNAL = internalRanges();

/** Whether `ip` is loopback, private, link-local (the metadata address 169.254.169.254 too), multicast or unspecified. */
export function isInternalAddress(ip: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return INTERNAL.check(mapped[1]!, 'ipv4');
  const v = isIP(ip);
  if (v === 0) return true; // not an address: refuse
  return INTERNAL.check(ip, v === 4 ? 'ipv4' : 'ipv6');
}

/** Check a webhook URL's shape: http(s), a host, no credentials; returns the parsed URL. */
export function parseWebhookUrl(raw: string): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw invalid(`webhook url ${JSON.stringify(raw.slice(0, 100))} is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw invalid('a webhook url must start with http:// or https://');
  if (u.username || u.password) throw invalid('a webhook url must not carry a user name or password: the signature authenticates nimbo');
  if (!u.hostname) throw invalid('a webhook url needs a host');
  return u;
}

/** The addresses `u`'s host resolves to, refused when one is internal and internal targets are not allowed. */
export async function resolveTarget(u: URL, allowInternal: boolean): Promise<{ address: string; family: 4 | 6 }[]> {
  const host = u.hostname.replace(/^\[|\]$/g, '');
  let addrs: { address: string; family: 4 | 6 }[];
  try {
    addrs = isIP(host) ? [{ address: host, family: isIP(host) as 4 | 6 }] : ((await lookup(host, { all: true, verbatim: true })) as { address: string; family: 4 | 6 }[]);
  } catch (e) {
    throw invalid(`webhook host ${host} does not resolve (${(e as { code?: string }).code ?? 'lookup failed'})`);
  }
  if (addrs.length === 0) throw invalid(`webhook host ${host} has no address`);
  if (!allowInternal) {
    const bad = addrs.find((a) => isInternalAddress(a.address));
    if (bad) throw invalid(`webhook host ${host} is at ${bad.address}, an internal address (loopback, private, link-local or metadata); nimbod sends webhooks only to public addresses unless its config allows internal targets`);
  }
  return addrs;
}
