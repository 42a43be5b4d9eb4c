import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { invalid } from '../../../lib/errors.js';
import { validateIfName } from '../validate.js';

// Traffic counters of a guest NIC, from /sys/class/net/TAP/statistics (readCounters, no process spawned) or from
// `ip -s -j link show dev TAP` (iproute2 JSON; key "stats64", older versions "stats"). The tap is the host's end of the wire: what the tap TRANSMITS the guest RECEIVES, and
// what the tap RECEIVES the guest sent. So the guest's rx is the tap's tx and vice versa.

/** Counters of one NIC as the guest sees them. */
export interface NicCounters {
  /** Bytes/packets the guest received (the tap's tx). */
  rxBytes: number;
  rxPackets: number;
  /** Bytes/packets the guest sent (the tap's rx). */
  txBytes: number;
  txPackets: number;
}

/** argv that prints the JSON parseTapCounters reads. */
export function tapCountersArgv(tap: string): string[] {
  return ['ip', '-s', '-j', 'link', 'show', 'dev', validateIfName(tap, 'tap name')];
}

const num = (v: unknown, what: string): number => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw invalid(`ip link JSON: ${what} is not a counter`);
  return v;
};

/** Parse `ip -s -j link show dev TAP` output into the guest's counters (rx/tx swapped, see above). */
export function parseTapCounters(json: string): NicCounters {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch {
    throw invalid('ip link output is not JSON');
  }
  const link = Array.isArray(data) ? data[0] : undefined;
  if (link === null || typeof link !== 'object') throw invalid('ip link JSON holds no link');
  const l = link as Record<string, unknown>;
  const stats = (l.stats64 ?? l.stats) as Record<string, Record<string, unknown>> | undefined;
  if (!stats || typeof stats !== 'object' || !stats.rx || !stats.tx) throw invalid('ip link JSON has no statistics (was -s given?)');
  return {
    rxBytes: num(stats.tx.bytes, 'tx.bytes'),
    rxPackets: num(stats.tx.packets, 'tx.packets'),
    txBytes: num(stats.rx.bytes, 'rx.bytes'),
    txPackets: num(stats.rx.packets, 'rx.packets'),
  };
}

const SYSFS_FILES = ['rx_bytes', 'rx_packets', 'tx_bytes', 'tx_packets'] as const;

/**
 * Counters of a tap as the guest sees them, read from SYSFS/TAP/statistics (default /sys/class/net, which shows
 * the network namespace of the process that mounted it). null when the tap does not exist (or vanished while
 * being read). The kernel counters start at 0 when the tap is created.
 */
export async function readCounters(tap: string, sysClassNet = '/sys/class/net'): Promise<NicCounters | null> {
  validateIfName(tap, 'tap name');
  const dir = join(sysClassNet, tap, 'statistics');
  const v: Record<string, number> = {};
  for (const f of SYSFS_FILES) {
    let text: string;
    try {
      text = await readFile(join(dir, f), 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENODEV' || code === 'ENXIO') return null;
      throw e;
    }
    if (!/^[0-9]+\n?$/.test(text)) throw invalid(`${join(dir, f)} does not hold a counter: "${text.trim().slice(0, 40)}"`);
    v[f] = Number(text.trim());
  }
  return { rxBytes: v.tx_bytes!, rxPackets: v.tx_packets!, txBytes: v.rx_bytes!, txPackets: v.rx_packets! };
}
