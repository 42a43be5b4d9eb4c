import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runArgv } from '../../src/host/exec.js';
import type { TestDaemon } from './harness.js';

/** An OCI layout of one busybox layer (entrypoint /bin/sh, cmd: sleep), made with umoci; returns its work dir. */
export async function busyboxLayout(): Promise<string> {
  const work = mkdtempSync(join(tmpdir(), 'nimbo-bb-'));
  const layout = join(work, 'layout');
  const bundle = join(work, 'bundle');
  const sh = (argv: string[]) => runArgv(argv, { timeoutMs: 60_000 });
  await sh(['umoci', 'init', '--layout', layout]);
  await sh(['umoci', 'new', '--image', `${layout}:app`]);
  await sh(['umoci', 'unpack', '--image', `${layout}:app`, bundle]);
  await sh(['mkdir', '-p', join(bundle, 'rootfs/bin'), join(bundle, 'rootfs/tmp'), join(bundle, 'rootfs/etc')]);
  await sh(['cp', '/bin/busybox', join(bundle, 'rootfs/bin/busybox')]);
  for (const a of ['sh', 'cat', 'head', 'yes', 'sleep', 'mkfifo', 'dd', 'echo', 'ls']) await sh(['ln', '-s', 'busybox', join(bundle, 'rootfs/bin', a)]);
  await sh(['sh', '-c', `echo 'root:x:0:0:root:/root:/bin/sh' > ${join(bundle, 'rootfs/etc/passwd')}; echo 'root:x:0:' > ${join(bundle, 'rootfs/etc/group')}`]);
  await sh(['umoci', 'repack', '--image', `${layout}:app`, bundle]);
  await sh(['umoci', 'config', '--image', `${layout}:app`, '--config.entrypoint', '/bin/sh', '--config.cmd', '-c', '--config.cmd', 'exec sleep 100000']);
  return work;
}

/** Resident memory of a process (VmRSS), in bytes. */
export function rssOf(pid: number): number {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
}

/** Sample a process's RSS every 20 ms and time GET /health every `everyMs` until stop(); peak RSS and latencies. */
export function watchDaemon(d: TestDaemon, everyMs = 20): { stop: () => Promise<{ peakRss: number; latencies: number[] }> } {
  let peakRss = rssOf(d.proc!.pid!);
  const latencies: number[] = [];
  let running = true;
  const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, rssOf(d.proc!.pid!))), 20);
  const poll = (async () => {
    while (running) {
      const t0 = performance.now();
      const res = await fetch(`${d.url}/api/v1/health`);
      await res.arrayBuffer();
      latencies.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await poll;
      clearInterval(rssTimer);
      return { peakRss, latencies };
    },
  };
}

/** The p-th percentile (0-100) of some numbers. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
}

/** Remove a work dir. */
export function removeDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}
