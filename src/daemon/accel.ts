import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import type { HostExec } from '../host/exec.js';
import type { AccelChoice } from '../core/deps.js';
import type { Logger } from '../lib/log.js';
import { probeAccelerator } from '../drivers/compute/qemu/kvm-probe.js';
import { findProgram } from '../core/host-info.js';

/** Choose the accelerator: forced by config, cached from an earlier probe on the same kernel and QEMU, or probed now. */
export async function chooseAccelerator(exec: HostExec, cacheFile: string, log: Logger, forced?: 'kvm' | 'tcg'): Promise<AccelChoice> {
  if (forced) return { accelerator: forced, reason: `forced by configuration (--accel ${forced})` };
  const qemu = findProgram('qemu-system-x86_64');
  const key = `${release()}|${qemu ? statSync(qemu).mtimeMs : 'none'}`;
  try {
    const cached = JSON.parse(readFileSync(cacheFile, 'utf8')) as { key: string; choice: AccelChoice };
    if (cached.key === key) return cached.choice;
  } catch {
    /* probe below */
  }
  const started = Date.now();
  const choice = await probeAccelerator(exec, {});
  log.info({ accelerator: choice.accelerator, reason: choice.reason, ms: Date.now() - started }, 'accelerator probed');
  writeFileSync(cacheFile, JSON.stringify({ key, choice }));
  return choice;
}
