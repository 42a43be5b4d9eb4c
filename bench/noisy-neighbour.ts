/**
 * bench/noisy-neighbour: how much of its own CPU, disk and network throughput a VPS keeps when a neighbour
 * on the same host runs a CPU, disk and network hog, for a dedicated plan and a shared plan, side by side.
 * Each victim (a system container) measures alone, then with the neighbour's hogs running:
 * - CPU: a fixed shell loop (iterations per second);
 * - disk: `dd oflag=direct` of DISK_MIB MiB to its own root volume (MiB/s);
 * - network: a download of NET_MIB MiB from a peer in a network namespace this bench creates, on the
 *   instances' bridge (MiB/s). The peer stands for the far end on the internet, so it must not share a core
 *   with the neighbour's CPU hog: it runs on the measured instance's cores (a dedicated victim's own core, a
 *   shared victim's shared cores), and the neighbour downloads from a peer of its own on the shared cores.
 * The neighbour has a shared plan with disk and network limits; the victims: `nn-ded` (dedicated: a host
 * core of its own) and `nn-sh` (shared: CPU weight, the same cores as the neighbour). Ratios = with / alone,
 * medians of RUNS (default 3). Needs root and runc (run: npm run bench:noisy-neighbour). Other load on
 * the host (other benchmarks, builds) shows up in the figures: run it on a quiet host.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { TestDaemon, sleep } from '../test/system/harness.js';
import { runArgv } from '../src/host/exec.js';

const RUNS = Number(process.env.RUNS ?? 3);
const LOOP = Number(process.env.LOOP ?? 1_000_000);
const DISK_MIB = Number(process.env.DISK_MIB ?? 1024);
const NET_MIB = Number(process.env.NET_MIB ?? 1024);
const PORT = 8089;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Seconds a shell snippet takes inside an instance (timed there from /proc/uptime, so exec overhead is not counted). */
async function timed(d: TestDaemon, name: string, snippet: string): Promise<number> {
  const script = `a=$(cut -d' ' -f1 /proc/uptime); ${snippet} >/dev/null 2>&1; b=$(cut -d' ' -f1 /proc/uptime); echo "$a $b"`;
  const r = await d.cli('exec', name, '--', 'sh', '-c', script);
  if (r.code !== 0) throw new Error(`exec in ${name}: ${r.stderr}`);
  const [a, b] = r.stdout.trim().split(' ').map(Number) as [number, number];
  return Math.max(0.01, b - a);
}

/** The three figures of one victim: loop iterations/s, disk MiB/s, network MiB/s. */
async function measure(d: TestDaemon, name: string, peer: string): Promise<{ cpu: number; disk: number; net: number }> {
  const cpu = LOOP / (await timed(d, name, `i=0; while [ $i -lt ${LOOP} ]; do i=$((i+1)); done`));
  const disk = DISK_MIB / (await timed(d, name, `dd if=/dev/zero of=/nn-dd bs=1M count=${DISK_MIB} oflag=direct; rm -f /nn-dd`));
  const net = NET_MIB / (await timed(d, name, `wget -q -O /dev/null http://${peer}:${PORT}/${NET_MIB}`));
  return { cpu, disk, net };
}

/** Start the neighbour's hogs (two CPU loops, a direct-I/O write loop, a download loop), detached inside it. */
async function hogsOn(d: TestDaemon, peer: string): Promise<void> {
  const hogs = [
    'while :; do :; done',
    'while :; do :; done',
    'while :; do dd if=/dev/zero of=/hog bs=1M count=64 oflag=direct; done',
    `while :; do wget -q -O /dev/null http://${peer}:${PORT}/1024; done`,
  ];
  const r = await d.cli('exec', 'nb', '--', 'sh', '-c', hogs.map((h) => `(${h}) >/dev/null 2>&1 </dev/null &`).join(' ') + ' echo started');
  if (r.code !== 0) throw new Error(`hogs: ${r.stderr}`);
  await sleep(1500);
}

/** Stop them: every process of the neighbour but its init. */
async function hogsOff(d: TestDaemon): Promise<void> {
  await d.cli('exec', 'nb', '--', 'sh', '-c', 'kill -9 -1; rm -f /hog');
  await sleep(500);
}

/** A peer in a namespace of its own, with a veth on the instances' bridge, serving N MiB of zeros on GET /N. */
async function startPeer(ns: string, bridge: string, address: string): Promise<ChildProcess> {
  const veth = `${ns}-h`.slice(0, 15);
  await runArgv(['ip', 'netns', 'add', ns]);
  await runArgv(['ip', 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  await runArgv(['ip', 'link', 'set', veth, 'master', bridge, 'up']);
  await runArgv(['ip', 'netns', 'exec', ns, 'ip', 'addr', 'add', address, 'dev', 'eth0']);
  await runArgv(['ip', 'netns', 'exec', ns, 'ip', 'link', 'set', 'eth0', 'up']);
  const server = `const z=Buffer.alloc(1<<20);require('http').createServer((q,s)=>{let n=Number(q.url.slice(1))||1;s.writeHead(200,{'content-length':n<<20});const w=()=>{while(n>0){n--;if(!s.write(z))return s.once('drain',w)}s.end()};w()}).listen(${PORT})`;
  const p = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', server], { stdio: 'ignore' });
  await sleep(500);
  return p;
}

async function main() {
  const d = await TestDaemon.start();
  const ns = `${d.prefix}-peer`;
  let peerProc: ChildProcess | undefined;
  let nbPeerProc: ChildProcess | undefined;
  try {
    const ok = async (...args: string[]) => {
      const r = await d.cli(...args);
      if (r.code !== 0) throw new Error(`nimbo ${args.join(' ')}: ${r.stderr}`);
    };
    await ok('image', 'build', 'tiny', '--quiet');
    const limits = ['--disk-write-bps', String(32 << 20), '--disk-read-bps', String(32 << 20), '--net-in', '200', '--net-out', '200'];
    await ok('plan', 'create', 'nn-ded', '--class', 'dedicated', '--vcpus', '1', '--memory', '256', '--disk', '2');
    await ok('plan', 'create', 'nn-sh', '--vcpus', '1', '--memory', '256', '--disk', '2', '--cpu-weight', '100');
    await ok('plan', 'create', 'nn-nb', '--vcpus', '1', '--memory', '256', '--disk', '2', '--cpu-weight', '100', ...limits);
    // The dedicated one first: shared instances started after it keep off its core.
    for (const [name, plan] of [['vd', 'nn-ded'], ['vs', 'nn-sh'], ['nb', 'nn-nb']] as const) await ok('launch', 'tiny', name, '--container', '--plan', plan, '--quiet');
    const net = (await d.api('GET', '/networks/default')).body as { bridge: string; subnet: string };
    const peer = net.subnet.replace(/\.0\/24$/, '.250');
    const nbPeer = net.subnet.replace(/\.0\/24$/, '.251');
    peerProc = await startPeer(ns, net.bridge, `${peer}/24`);
    nbPeerProc = await startPeer(`${ns}2`, net.bridge, `${nbPeer}/24`);
    const cores = ((await d.api('GET', '/instances/vd')).body as { dedicatedCores?: number[] }).dedicatedCores ?? [];
    const nproc = Number((await runArgv(['nproc'])).stdout.trim());
    const shared = Array.from({ length: nproc }, (_, i) => i).filter((c) => !cores.includes(c));
    const pin = (p: ChildProcess, on: number[]) => runArgv(['taskset', '-a', '-p', '-c', on.join(','), String(p.pid)]);
    await pin(nbPeerProc, shared);
    console.log(`noisy-neighbour: host ${(await runArgv(['nproc'])).stdout.trim()} cores; vd (nn-ded) on core(s) ${cores?.join(',')}; vs (nn-sh) and nb (nn-nb: 32 MiB/s disk, 200 Mbit/s) on the rest; ${RUNS} runs, medians`);

    const rows: Record<string, { alone: { cpu: number; disk: number; net: number }[]; noisy: { cpu: number; disk: number; net: number }[] }> = { vd: { alone: [], noisy: [] }, vs: { alone: [], noisy: [] } };
    for (let i = 0; i < RUNS; i++) {
      const on = async (v: string) => (await pin(peerProc!, v === 'vd' ? cores : shared), v);
      for (const v of ['vd', 'vs']) rows[v]!.alone.push(await measure(d, await on(v), peer));
      await hogsOn(d, nbPeer);
      for (const v of ['vd', 'vs']) rows[v]!.noisy.push(await measure(d, await on(v), peer));
      await hogsOff(d);
    }
    const fig = (v: string, k: 'cpu' | 'disk' | 'net', w: 'alone' | 'noisy') => median(rows[v]![w].map((m) => m[k]));
    const unit = { cpu: 'loops/s', disk: 'MiB/s', net: 'MiB/s' } as const;
    console.log('metric  plan        alone        with neighbour  ratio');
    for (const k of ['cpu', 'disk', 'net'] as const) {
      for (const [v, label] of [['vd', 'dedicated'], ['vs', 'shared   ']] as const) {
        const a = fig(v, k, 'alone');
        const n = fig(v, k, 'noisy');
        console.log(`${k.padEnd(6)}  ${label}   ${a.toFixed(1).padStart(9)} ${unit[k].padEnd(7)} ${n.toFixed(1).padStart(9)}  ${(n / a).toFixed(2)}`);
      }
    }
    const ratios = (v: string) => (['cpu', 'disk', 'net'] as const).map((k) => `${k} ${(fig(v, k, 'noisy') / fig(v, k, 'alone')).toFixed(2)}`).join(', ');
    console.log(`noisy-neighbour ratios (with/alone): dedicated: ${ratios('vd')} | shared: ${ratios('vs')}`);
  } finally {
    peerProc?.kill('SIGKILL');
    nbPeerProc?.kill('SIGKILL');
    await runArgv(['ip', 'netns', 'del', ns], { allowFailure: true });
    await runArgv(['ip', 'netns', 'del', `${ns}2`], { allowFailure: true });
    await d.cleanup();
  }
}

await main();
