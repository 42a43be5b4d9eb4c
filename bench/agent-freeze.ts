/**
 * bench/agent-freeze: a disk-only snapshot of a running tiny VM whose guest agent freezes its
 * filesystems (application-consistent) against the same snapshot of a tiny VM without an agent
 * (qemu-ga removed in the guest: crash-consistent), rounds alternating between the two VMs.
 * Prints the freeze window (from guest-fsfreeze-freeze returning to guest-fsfreeze-thaw returning,
 * as nimbo records it on the snapshot; target < 100 ms for an idle guest), each snapshot's total
 * time (the API call to the end of its operation), and the ratio with/without.
 */
import { performance } from 'node:perf_hooks';
import { TestDaemon, sleep } from '../test/system/harness.js';

const ROUNDS = Number(process.env.ROUNDS ?? 7);

async function op(d: TestDaemon, res: { status: number; body: { operation?: { id: string } } }): Promise<{ result?: unknown }> {
  if (!res.body.operation) throw new Error(`no operation: ${JSON.stringify(res.body)}`);
  const r = await d.api('GET', `/operations/${res.body.operation.id}/wait?timeout=180`);
  if (r.body.status !== 'success') throw new Error(`operation failed: ${JSON.stringify(r.body.error)}`);
  return r.body;
}

async function agentUp(d: TestDaemon, name: string, want: boolean): Promise<void> {
  for (let i = 0; i < 240; i++) {
    if (((await d.api('GET', `/instances/${name}`)).body.agent?.available === true) === want) return;
    await sleep(500);
  }
  throw new Error(`agent of ${name} never became ${want ? 'available' : 'unavailable'}`);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (xs: number[]) => `median ${median(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`;

const d = await TestDaemon.start();
try {
  const built = await d.cli('image', 'build', 'tiny', '--quiet');
  if (built.code !== 0) throw new Error(built.stderr);
  for (const name of ['with', 'without']) await op(d, await d.api('POST', '/instances', { name, image: 'tiny', memory: '256MiB', cpus: 1 }));
  await agentUp(d, 'with', true);
  await agentUp(d, 'without', true);
  // The second VM loses its agent: the program goes, then the running one (init's respawn finds none).
  const off = await d.cli('exec', 'without', '--', 'sh', '-c', 'mv /usr/sbin/qemu-ga /usr/sbin/qemu-ga.off; (sleep 1; killall qemu-ga) >/dev/null 2>&1 &');
  if (off.code !== 0) throw new Error(off.stderr);
  await agentUp(d, 'without', false);
  await sleep(3000); // both idle
  const total: Record<string, number[]> = { with: [], without: [] };
  const frozen: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    for (const name of i % 2 ? ['without', 'with'] : ['with', 'without']) {
      const t0 = performance.now();
      const done = await op(d, await d.api('POST', `/instances/${name}/snapshots`, { name: `b${i}` }));
      total[name]!.push(performance.now() - t0);
      const snap = done.result as { consistency?: string; frozenMs?: number };
      const want = name === 'with' ? 'application' : 'crash';
      if (snap.consistency !== want) throw new Error(`${name}: snapshot is ${snap.consistency}, expected ${want}`);
      if (name === 'with') frozen.push(snap.frozenMs!);
      await op(d, await d.api('DELETE', `/instances/${name}/snapshots/b${i}`));
    }
  }
  console.log(`agent-freeze: method: tiny VMs (TCG, 1 vCPU, 256 MiB, idle), disk-only snapshot of the running VM through nimbod's API, ${ROUNDS} rounds alternating; "with": qemu-ga freezes the guest filesystems around the QMP transaction of internal snapshots; "without": qemu-ga removed in the guest`);
  console.log(`agent-freeze: freeze window (freeze returned -> thaw returned): ${fmt(frozen)}; target < 100 ms: ${median(frozen) < 100 ? 'met' : 'NOT met'}`);
  console.log(`agent-freeze: snapshot total with agent (application-consistent): ${fmt(total.with!)}`);
  console.log(`agent-freeze: snapshot total without agent (crash-consistent):   ${fmt(total.without!)}`);
  console.log(`agent-freeze: ratio with/without (medians): ${(median(total.with!) / median(total.without!)).toFixed(2)}`);
} finally {
  await d.cleanup();
}
