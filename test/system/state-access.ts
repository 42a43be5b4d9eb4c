import { lstatSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { probeAs, reachable } from '../../src/drivers/compute/qemu/access-probe.js';

// Point 5 of issue 8: what an unprivileged host user (or an escaped QEMU) can reach in a state dir.

/** Every file, socket and directory under `root` (walked as root, symlinks not followed). */
export function walk(root: string): string[] {
  const out: string[] = [];
  const visit = (dir: string) => {
    for (const e of readdirSync(dir)) {
      const p = join(dir, e);
      out.push(p);
      const st = lstatSync(p);
      if (st.isDirectory()) visit(p);
    }
  };
  visit(root);
  return out;
}

// What other users may read on purpose: public image files (not tenant data) and the pool's image
// bases QEMU reads as backing files; dnsmasq's config and host lists (dnsmasq runs as nobody);
// daemon.json and the pid file (the URL and pid, no secret).
const PUBLIC = [/^images\//, /^pools\/[^/]+\/bases\//, /^networks\//, /^daemon\.json$/, /^nimbod\.pid$/];

/** The paths under stateDir that uid:gid can open, list or connect to, beyond the public ones above. */
export async function exposedTo(stateDir: string, uid: number, gid: number): Promise<{ exposed: string[]; probed: Record<string, string> }> {
  const paths = walk(stateDir);
  const probed = await probeAs(uid, gid, paths);
  const exposed = reachable(probed)
    .map((p) => relative(stateDir, p))
    .filter((p) => !PUBLIC.some((re) => re.test(p)));
  return { exposed, probed };
}
