// Reading this process's mount table (/proc/self/mountinfo): what container roots check
// before they mount, unmount or delete.
import { readFile, realpath } from 'node:fs/promises';
import { resolve } from 'node:path';

/** One line of /proc/self/mountinfo. */
export interface MountInfo {
  mountPoint: string;
  fsType: string;
  source: string;
  superOptions: string;
}

const unescapeMount = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** Parses /proc/self/mountinfo text (octal escapes decoded). Pure. */
export function parseMountinfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (f.length < 10 || sep < 0) continue;
    out.push({
      mountPoint: unescapeMount(f[4]!),
      fsType: f[sep + 1] ?? '',
      source: unescapeMount(f[sep + 2] ?? ''),
      superOptions: f[sep + 3] ?? '',
    });
  }
  return out;
}

/** Current mounts of this process's mount namespace. */
export async function readMounts(): Promise<MountInfo[]> {
  return parseMountinfo(await readFile('/proc/self/mountinfo', 'utf8'));
}

/** Whether `path` (symlinks resolved) is a mount point in this mount namespace. */
export async function isMountPoint(path: string): Promise<boolean> {
  const real = await realpath(path).catch(() => resolve(path));
  return (await readMounts()).some((m) => m.mountPoint === real);
}

