import { chmod, chown, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { checkSeedPath } from '../../seed-path.js';

/**
 * Where a container sees its seed: the directory the lead bind-mounts (read-only) into the
 * container, laid out like the root of the VM's cidata ISO (meta-data, user-data,
 * network-config, nimbo/instance-id, nimbo/hostname, nimbo/authorized_keys, nimbo/net-*).
 * The tiny image's /etc/nimbo/rc reads `${CONTAINER_SEED_DIR}/nimbo/*`. It is outside /run
 * on purpose: the init mounts a fresh tmpfs on /run, which would hide a mount below it.
 */
export const CONTAINER_SEED_DIR = '/.nimbo/seed';

/**
 * Where a system container sees its console log (the host file that also takes init's stdout),
 * bind-mounted read-write and owned by the container's root: an init that points its own stdio
 * elsewhere (systemd uses /dev/null) has its services append lines there (the ready marker).
 * Open it with O_APPEND (`>>`): it is a plain file.
 */
export const CONTAINER_CONSOLE = '/.nimbo/console';

/** Who owns a seed directory on the host (a container's root is host id `uid`). */
export interface SeedDirOwner {
  uid: number;
  gid: number;
}

/**
 * Writes `files` (relative path → content, exactly the map renderSeed gives buildSeedIso)
 * into `dir`, replacing what was there. Without `owner`: root-owned, dirs 0755, files 0644
 * (world-readable, like the ISO). With `owner` (the container's mapped root, e.g. hostId):
 * owned by it, dirs 0700, files 0600, so only the container's root can read the seed (a
 * password in it included); host root-owned 0600 files would be unreadable in a user
 * namespace. Staged next to `dir` and renamed into place, so a reader never sees half a seed.
 */
export async function renderSeedDir(files: Record<string, string>, dir: string, owner?: SeedDirOwner): Promise<void> {
  Object.keys(files).forEach(checkSeedPath);
  const target = resolve(dir);
  await mkdir(dirname(target), { recursive: true });
  const stage = await mkdtemp(join(dirname(target), `.${basename(target)}.tmp-`));
  const dirMode = owner ? 0o700 : 0o755;
  const fileMode = owner ? 0o600 : 0o644;
  try {
    const dirs = new Set<string>(['']);
    for (const p of Object.keys(files)) {
      const parts = p.split('/');
      for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
    }
    for (const d of [...dirs].sort()) {
      const abs = join(stage, d);
      await mkdir(abs, { recursive: true });
      await chmod(abs, dirMode);
      if (owner) await chown(abs, owner.uid, owner.gid);
    }
    for (const [p, content] of Object.entries(files)) {
      const abs = join(stage, p);
      await writeFile(abs, content, { mode: fileMode });
      await chmod(abs, fileMode);
      if (owner) await chown(abs, owner.uid, owner.gid);
    }
    await rm(target, { recursive: true, force: true });
    await rename(stage, target);
  } catch (e) {
    await rm(stage, { recursive: true, force: true });
    throw e;
  }
}
