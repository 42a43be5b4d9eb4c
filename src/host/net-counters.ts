// Byte counters of a network device, read from sysfs (the kernel's own per-device statistics).
import { readFile } from 'node:fs/promises';

const DEV = /^[A-Za-z0-9_.-]{1,15}$/;

/** Counters of one device: its ifindex (a new one means the device was recreated) and rx/tx bytes. */
export interface NetCounters {
  ifindex: number;
  rx: number;
  tx: number;
}

/** Read /sys/class/net/DEV/{ifindex,statistics/rx_bytes,statistics/tx_bytes}; undefined when the device is absent. */
export async function readNetCounters(dev: string, sysRoot = '/sys/class/net'): Promise<NetCounters | undefined> {
  if (!DEV.test(dev) || dev === '.' || dev === '..') return undefined;
  try {
    const [ifindex, rx, tx] = await Promise.all(['ifindex', 'statistics/rx_bytes', 'statistics/tx_bytes'].map((f) => readFile(`${sysRoot}/${dev}/${f}`, 'utf8')));
    const n = [ifindex, rx, tx].map((v) => Number(v!.trim()));
    return n.every((v) => Number.isSafeInteger(v) && v >= 0) ? { ifindex: n[0]!, rx: n[1]!, tx: n[2]! } : undefined;
  } catch {
    return undefined; // gone (instance stopped, tap deleted) between listing and reading
  }
}
