/**
 * bench/idle: nimbod's CPU while nothing happens, with CONTAINERS running system containers (default 100)
 * and VMS running tiny TCG VMs (default 10, VM_MEMORY each, default 128MiB). Over WINDOW seconds (default
 * 60) it reads utime+stime from /proc/<pid>/stat of the daemon (its own, and its reaped children's: the
 * commands it spawns), of the instances' processes (containers by cgroup, VMs' QEMUs) and of the other
 * processes of the run (dnsmasq, shims); then the same window with the daemon stopped (the instances keep
 * running). Prints % of one core for each; the target is under 1 % for the daemon. Needs root
 * (run: npm run bench:idle). A per-run prefix and state dir (test/system/harness.ts), all removed after.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { TestDaemon, sleep } from '../test/system/harness.js';
import { runArgv } from '../src/host/exec.js';
import { parseStat, used, type Cpu, type Kind, type Snapshot } from './idle-cpu.js';

const CONTAINERS = Number(process.env.CONTAINERS ?? 100);
const VMS = Number(process.env.VMS ?? 10);
const VM_MEMORY = process.env.VM_MEMORY ?? '128MiB';
const WINDOW_S = Number(process.env.WINDOW ?? 60);
/** Seconds to wait after the last ready marker, so the boots' tails are not in the window. */
const SETTLE_S = Number(process.env.SETTLE ?? 15);
/** The target for the idle daemon, % of one core. */
const TARGET_PCT = 1;

async function op(d: TestDaemon, res: { status: number; body: { operation?: { id: string } } }) {
  if (!res.body.operation) throw new Error(`request failed: ${JSON.stringify(res.body)}`);
  const r = await d.api('GET', `/operations/${res.body.operation.id}/wait?timeout=300`);
  if (r.body.status !== 'success') throw new Error(`operation failed: ${JSON.stringify(r.body.error)}`);
}

/** CPU seconds of a process so far; undefined when it is gone. */
function cpuOf(pid: number, tick: number): Cpu | undefined {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'), tick);
  } catch {
    return undefined;
  }
}

/** Every live process of this run, classified: the daemon, a container's (its cgroup), a QEMU, or another one naming the state dir. */
function snapshot(d: TestDaemon, daemonPid: number | undefined, tick: number): Snapshot {
  const out: Snapshot = new Map();
  const group = `/nimbo-${d.prefix}/`;
  for (const e of readdirSync('/proc')) {
    const pid = Number(e);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    let kind: Kind | undefined;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (pid === daemonPid) kind = 'daemon';
      else if (readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(group)) kind = 'container';
      else if (cmd.includes(d.stateDir)) kind = cmd.startsWith('qemu-system') || cmd.includes('/qemu-system') ? 'vm' : 'helper';
    } catch {
      continue; // exited meanwhile
    }
    const cpu = kind && cpuOf(pid, tick);
    if (kind && cpu) out.set(pid, { kind, cpu });
  }
  return out;
}

/** Measure one window; returns % of one core per kind. */
async function window(d: TestDaemon, daemonPid: number | undefined, tick: number) {
  const a = snapshot(d, daemonPid, tick);
  const t0 = performance.now();
  await sleep(WINDOW_S * 1000);
  const b = snapshot(d, daemonPid, tick);
  const secs = (performance.now() - t0) / 1000;
  const u = used(a, b);
  const pct = (x: number) => (100 * x) / secs;
  return { daemon: pct(u.daemon), children: pct(u.daemonChildren), container: pct(u.container), vm: pct(u.vm), helper: pct(u.helper), procs: u.procs, secs };
}

const p2 = (x: number) => `${x.toFixed(2)}%`;
const tick = Number((await runArgv(['getconf', 'CLK_TCK'])).stdout.trim()) || 100;
const d = await TestDaemon.start();
try {
  const built = await d.cli('image', 'build', 'tiny', '--quiet');
  if (built.code !== 0) throw new Error(built.stderr);
  const t0 = performance.now();
  for (let i = 0; i < CONTAINERS; i++) await op(d, await d.api('POST', '/instances', { name: `ic${i}`, image: 'tiny', type: 'container', memory: '64MiB' }));
  for (let i = 0; i < VMS; i++) await op(d, await d.api('POST', '/instances', { name: `iv${i}`, image: 'tiny', memory: VM_MEMORY }));
  const names = [...Array.from({ length: CONTAINERS }, (_, i) => `ic${i}`), ...Array.from({ length: VMS }, (_, i) => `iv${i}`)];
  for (const n of names) await d.waitConsole(n, new RegExp(`NIMBO-READY ${n}\\b`), 900_000);
  const list = (await d.api('GET', '/instances?limit=1000')).body.instances as { state: string }[];
  const running = list.filter((x) => x.state === 'running').length;
  console.log(`idle: ${CONTAINERS} containers (64MiB) + ${VMS} TCG VMs (${VM_MEMORY}) up in ${((performance.now() - t0) / 1000).toFixed(0)} s, ${running} running; settling ${SETTLE_S} s, then two windows of ${WINDOW_S} s`);
  await sleep(SETTLE_S * 1000);

  const on = await window(d, d.proc!.pid, tick);
  await d.stop();
  const off = await window(d, undefined, tick);
  const line = (w: typeof on) => `containers ${p2(w.container)} (${w.procs.container} processes), VMs ${p2(w.vm)} (${w.procs.vm} QEMUs), other processes of the run ${p2(w.helper)} (${w.procs.helper})`;
  console.log(`idle: daemon running (${on.secs.toFixed(1)} s): nimbod ${p2(on.daemon + on.children)} of one core (own ${p2(on.daemon)}, the commands it ran ${p2(on.children)}); ${line(on)}`);
  console.log(`idle: daemon stopped (${off.secs.toFixed(1)} s): ${line(off)}`);
  const all = (w: typeof on) => w.daemon + w.children + w.container + w.vm + w.helper;
  const daemon = on.daemon + on.children;
  console.log(`idle: everything of the run ${p2(all(on))} with the daemon, ${p2(all(off))} without; nimbod ${p2(daemon)} of one core (target < ${TARGET_PCT}%: ${daemon < TARGET_PCT ? 'met' : 'missed'})`);
  if (off.procs.container < on.procs.container || off.procs.vm < on.procs.vm) {
    console.log(`idle: warning: fewer instance processes without the daemon (${off.procs.container} container, ${off.procs.vm} QEMU) than with it`);
  }
} finally {
  await d.cleanup();
}
