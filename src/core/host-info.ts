import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { hostname, cpus, totalmem, release } from 'node:os';
import type { HostInfo } from '../shared/api-types.js';
import type { HostExec } from '../host/exec.js';
import type { AccelChoice } from './deps.js';
import type { DaemonConfig } from './config.js';
import type { NetworkSpec } from '../drivers/network/types.js';
import { VERSION } from '../shared/version.js';
import { checkRuncVersion } from '../drivers/compute/runc/runc-version.js';
import { allArchSupport } from '../drivers/compute/qemu/arch.js';
import { nativeArch } from '../shared/arch-types.js';

type Check = HostInfo['checks'][number];

/** Is `prog` on PATH (or an absolute executable)? */
export function findProgram(prog: string): string | undefined {
  const dirs = prog.includes('/') ? [''] : (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').concat(['/usr/sbin', '/sbin']);
  for (const d of dirs) {
    const p = d ? `${d}/${prog}` : prog;
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** The programs nimbod drives. */
export const PROGRAMS = ['qemu-system-x86_64', 'qemu-img', 'ip', 'nft', 'dnsmasq', 'genisoimage', 'mke2fs', 'busybox'];

/** Collect host facts and health checks (what `nimbo doctor` shows). */
export async function collectHostInfo(exec: HostExec, config: DaemonConfig, accel: AccelChoice, net: NetworkSpec): Promise<HostInfo> {
  const checks: Check[] = PROGRAMS.map((p) => {
    const at = findProgram(p);
    return { name: `program ${p}`, ok: !!at, detail: at ?? 'not found: run ./nimbo up or scripts/setup.sh' };
  });
  checks.push({ name: 'accelerator', ok: true, detail: `${accel.accelerator}: ${accel.reason}` });
  const fwd = safeRead('/proc/sys/net/ipv4/ip_forward').trim();
  checks.push({ name: 'ip forwarding', ok: fwd === '1', detail: fwd === '1' ? 'enabled' : 'disabled (NAT needs net.ipv4.ip_forward=1)' });
  const br = await exec.run(['ip', '-br', 'link', 'show', 'dev', net.bridge], { allowFailure: true });
  checks.push({ name: `bridge ${net.bridge}`, ok: br.code === 0, detail: br.code === 0 ? br.stdout.trim() : 'missing' });
  const user = await exec.run(['id', '-u', config.qemuUser], { allowFailure: true });
  checks.push({ name: `qemu user ${config.qemuUser}`, ok: user.code === 0, detail: user.code === 0 ? `uid ${user.stdout.trim()}` : 'missing: run ./nimbo up' });
  const runtime = config.containerRuntime ?? 'runc';
  const rv = await checkRuncVersion(exec, runtime);
  checks.push({ name: `runtime ${runtime} security fixes`, ok: rv.version !== null && rv.missing.length === 0, detail: rv.detail });
  checks.push({ name: '/dev/kvm', ok: true, detail: existsSync('/dev/kvm') ? 'present' : 'absent (TCG only)' });
  return {
    hostname: hostname(),
    version: VERSION,
    accelerator: accel.accelerator,
    acceleratorReason: accel.reason,
    arch: nativeArch(),
    guestArches: allArchSupport(config.qemuBinaries),
    kernel: release(),
    cpus: cpus().length,
    memory: totalmem(),
    stateDir: config.stateDir,
    prefix: config.prefix,
    network: { name: net.name, bridge: net.bridge, subnet: net.subnet, gateway: net.gateway },
    checks,
  };
}

function safeRead(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}
