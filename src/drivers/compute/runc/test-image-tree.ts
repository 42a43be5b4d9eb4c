// Test support (system tests only): an image tree as the image service unpacks one.
import { chmodSync, copyFileSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { HostExec } from '../../../host/exec.js';

/** busybox (from busybox-static) with every applet linked, root-owned, an inittab that logs. */
export async function buildImageTree(exec: HostExec, tree: string): Promise<void> {
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'proc', 'sys', 'dev', 'etc', 'root', 'tmp', 'run', 'mnt']) mkdirSync(join(tree, d), { recursive: true });
  chmodSync(join(tree, 'tmp'), 0o1777);
  copyFileSync('/bin/busybox', join(tree, 'bin/busybox'));
  chmodSync(join(tree, 'bin/busybox'), 0o755);
  for (const a of (await exec.run(['/bin/busybox', '--list-full'])).stdout.split('\n').filter(Boolean)) {
    const link = join(tree, a);
    if (a === 'bin/busybox' || existsSync(link)) continue;
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync('/bin/busybox', link);
  }
  writeFileSync(join(tree, 'etc/inittab'), '::sysinit:/bin/echo nimbo-sysinit\n::shutdown:/bin/echo nimbo-shutdown\n');
  writeFileSync(join(tree, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(tree, 'etc/group'), 'root:x:0:\n');
}
