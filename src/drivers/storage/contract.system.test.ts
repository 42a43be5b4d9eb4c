// The StorageDriver contract against every driver configuration, on real filesystems: a plain
// host directory, XFS with reflink and btrfs on loop devices this test makes and removes.
// Every temp dir, loop image and mount carries the per-run prefix qsXXXX. Needs root.
import { randomBytes } from 'node:crypto';
import { RealExec } from '../../host/exec.js';
import { storageContract } from './testing/contract.js';
import { makeLoopFs, makeTempDir } from './testing/loop-fs.js';

const exec = new RealExec();
const run = `qs${randomBytes(2).toString('hex')}`;
const MiB = 1024 * 1024;
const hostDir = () => makeTempDir(run);
// Refusals are tried on ext4 (never reflinks, never btrfs), whatever /tmp is on this host.
const ext4 = () => makeLoopFs(exec, 'ext4', 64 * MiB, run);

storageContract({
  label: 'dir qcow2 on a plain host directory',
  driver: 'dir',
  options: { format: 'qcow2' },
  scratch: (k) => (k === 'main' ? hostDir() : makeLoopFs(exec, 'ext4', 64 * MiB, run)),
  refusal: { driver: 'dir', options: { format: 'raw' }, on: ext4, match: /needs a filesystem with reflinks/ },
}, exec);

storageContract({
  label: 'dir raw with reflinks on XFS (loop)',
  driver: 'dir',
  options: { format: 'raw' },
  scratch: (k) => makeLoopFs(exec, 'xfs', k === 'main' ? 1024 * MiB : 320 * MiB, run),
  refusal: { driver: 'btrfs', options: {}, on: () => makeLoopFs(exec, 'xfs', 320 * MiB, run), match: /must be on a btrfs filesystem/ },
}, exec);

storageContract({
  label: 'btrfs (loop)',
  driver: 'btrfs',
  options: {},
  scratch: (k) => makeLoopFs(exec, 'btrfs', k === 'main' ? 1024 * MiB : 256 * MiB, run),
  refusal: { driver: 'btrfs', options: {}, on: ext4, match: /must be on a btrfs filesystem/ },
}, exec);

// qcow2 on a reflink filesystem takes other paths (reflink linked clones, clones of snapshots).
storageContract({
  label: 'dir qcow2 with reflinks on XFS (loop)',
  driver: 'dir',
  options: { format: 'qcow2' },
  scratch: (k) => makeLoopFs(exec, 'xfs', k === 'main' ? 1024 * MiB : 320 * MiB, run),
  refusal: { driver: 'dir', options: { format: 'raw' }, on: ext4, match: /needs a filesystem with reflinks/ },
}, exec);
