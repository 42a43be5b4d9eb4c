// Byte and packet counters of a network device, read from sysfs (the kernel's own per-device statistics).
// These are the HOST side's counters: for a tap or veth the host end's rx is what the instance sent.
import { readFile } from 'node:fs/promises';

const DEV = /^[A-Za-z0-9_.-]{1,15}$/;

/** Counters of one device: its ifindex (a new one means the device was recreated) and rx/tx bytes. */
export interface NetCounters {
  ifindex: number;
  rx: number;
  tx: number;
}

/** NetCounters plus packets, as seen by the host end of the device. */
export interface NicStats extends NetCounters {
  rxPackets: number;
  txPackets: number;
}

/** Read `files` under /sys/class/net/DEV as non-negative integers; undefined when the device is absent or a value is not one. */
async function readDevFiles(dev: string, files: readonly string[], sysRoot: string): Promise<number[] | undefined> {
  if (!DEV.test(dev) || dev === '.' || dev === '..') return undefined;
  try {
    const n = (await Promise.all(files.map((f) => readFile(`${sysRoot}/${dev}/${f}`, 'utf8')))).map((v) => Number(v.trim()));
    return n.every((v) => Number.isSafeInteger(v) && v >= 0) ? n : undefined;
  } catch {
    return undefined; // gone (instance stopped, tap deleted) between listing and reading
  }
}

/** Read /sys/class/net/DEV/{ifindex,statistics/rx_bytes,statistics/tx_bytes}; undefined when the device is absent. */
export async function readNetCounters(dev: string, sysRoot = '/sys/class/net'): Promise<NetCounters | undefined> {
  const n = await readDevFiles(dev, ['ifindex', 'statistics/rx_bytes', 'statistics/tx_bytes'], sysRoot);
  return n ? { ifindex: n[0]!, rx: n[1]!, tx: n[2]! } : undefined;
}

/** Like readNetCounters, with rx/tx packets too (the metrics sampler). */
export async function readNicStats(dev: string, sysRoot = '/sys/class/net'): Promise<NicStats | undefined> {
  const files = ['ifindex', 'statistics/rx_bytes', 'statistics/tx_bytes', 'statistics/rx_packets', 'statistics/tx_packets'];
  const n = await readDevFiles(dev, files, sysRoot);
  return n ? { ifindex: n[0]!, rx: n[1]!, tx: n[2]!, rxPackets: n[3]!, txPackets: n[4]! } : undefined;
}
