import { chmod, mkdtemp, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import type { HostExec } from '../../../host/exec.js';
import { checkSeedPath } from '../seed-path.js';

/**
 * Writes `files` (path → content, as from renderSeed) into an ISO 9660 image labelled
 * `cidata` at outPath (NoCloud's seed disk). Stages in a temp dir, removed afterwards.
 */
export async function buildSeedIso(exec: HostExec, files: Record<string, string>, outPath: string): Promise<void> {
  Object.keys(files).forEach(checkSeedPath);
  const out = resolve(outPath);
  const stage = await mkdtemp(join(tmpdir(), 'nimbo-seed-'));
  const part = `${out}.part`;
  try {
    const root = join(stage, 'cidata');
    await mkdir(root, { mode: 0o755 });
    for (const [p, content] of Object.entries(files)) {
      await mkdir(dirname(join(root, p)), { recursive: true, mode: 0o755 });
      await writeFile(join(root, p), content, { mode: 0o644 });
    }
    await exec.run(['genisoimage', '-quiet', '-output', part, '-volid', 'cidata', '-joliet', '-rock', root]);
    await chmod(part, 0o600); // the instance's keys and addresses: root's (QEMU opens it before dropping privileges)
    await rename(part, out);
  } catch (e) {
    await rm(part, { force: true });
    throw e;
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}
