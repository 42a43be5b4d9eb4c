import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { makeDirsSync } from '../drivers/storage/fs-util.js';
import { PRIVATE_DIR_MODE, TRAVERSE_DIR_MODE } from '../lib/file-modes.js';

// Who must get into the state dir besides root (the daemon):
// - dnsmasq runs as nobody and reads networks/NAME/*;
// - a VM's QEMU, after dropping to its own uid, opens hot-plugged volumes in pools/ and the image
//   bases they are backed by (public, 0644) in images/ or the pool;
// - a container's id range reaches its root and seed under instances/NAME and run/NAME.
// Those trees are 0711: traversable by path, never listable, and every secret below them is 0600/0700
// (disks, logs, sockets in root-owned run dirs). Everything else is root's alone.

/** The mode of each top-level directory of a state dir (the state dir itself is ''). */
export const STATE_DIR_MODES: Readonly<Record<string, number>> = {
  '': TRAVERSE_DIR_MODE,
  images: TRAVERSE_DIR_MODE,
  instances: TRAVERSE_DIR_MODE,
  networks: TRAVERSE_DIR_MODE,
  pools: TRAVERSE_DIR_MODE,
  run: TRAVERSE_DIR_MODE,
  cache: PRIVATE_DIR_MODE,
  logs: PRIVATE_DIR_MODE,
};

/** Create the state dir's top-level directories and (re)set their modes (an older install may have looser ones). */
export function applyStateDirModes(stateDir: string): void {
  for (const [sub, mode] of Object.entries(STATE_DIR_MODES)) {
    const dir = sub ? join(stateDir, sub) : stateDir;
    makeDirsSync(dir, mode); // never Node's recursive mkdir: it spins on paths like /proc/x/y
    chmodSync(dir, mode); // mkdir's mode is filtered by the umask and ignored for an existing dir
  }
}
