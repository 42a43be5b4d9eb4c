// Extended attributes of a tree, read and written in one Python process each (Node has no xattr
// calls; Debian's python3 is already a host dependency). Only the attributes a container root
// needs back are kept: file capabilities (security.capability) and user.*; trusted.* (overlayfs'
// own) and security.selinux etc. never travel, in either direction.
import type { HostExec } from '../host/exec.js';

/** Whether an attribute is backed up and restored. */
export const keptXattr = (name: string) => name === 'security.capability' || name.startsWith('user.');

// Prints one JSON line [relative path, {name: base64}] per entry that has kept attributes; never follows a symlink.
const READ_SCRIPT = `
import os, sys, json, base64
root = sys.argv[1]
out = sys.stdout
def emit(rel, path):
    try: names = [n for n in os.listxattr(path, follow_symlinks=False) if n == 'security.capability' or n.startswith('user.')]
    except OSError: return
    if not names: return
    x = {}
    for n in names:
        try: x[n] = base64.b64encode(os.getxattr(path, n, follow_symlinks=False)).decode()
        except OSError: pass
    if x: out.write(json.dumps([rel, x]) + '\\n')
emit('', root)
stack = [(root, '')]
while stack:
    d, rel = stack.pop()
    try: it = os.scandir(d)
    except OSError: continue
    with it:
        for e in it:
            r = rel + e.name
            emit(r, e.path)
            if e.is_dir(follow_symlinks=False): stack.append((e.path, r + '/'))
`;

// Reads JSON lines [absolute path, {name: base64}] on stdin and sets them, never through a symlink.
const WRITE_SCRIPT = `
import os, sys, json, base64
def keep(n): return n == 'security.capability' or n.startswith('user.')
for line in sys.stdin:
    if not line.strip(): continue
    p, x = json.loads(line)
    for n, v in x.items():
        if keep(n): os.setxattr(p, n, base64.b64decode(v), follow_symlinks=False)
`;

/** The kept attributes of every entry under root that has some, by path relative to root ('' = root). */
export async function readTreeXattrs(exec: HostExec, root: string): Promise<Map<string, Map<string, Buffer>>> {
  const r = await exec.run(['python3', '-c', READ_SCRIPT, root], { timeoutMs: 60 * 60_000 });
  const out = new Map<string, Map<string, Buffer>>();
  for (const line of r.stdout.split('\n')) {
    if (!line) continue;
    const [rel, x] = JSON.parse(line) as [string, Record<string, string>];
    out.set(rel === '.' ? '' : rel, new Map(Object.entries(x).map(([k, v]) => [k, Buffer.from(v, 'base64')])));
  }
  return out;
}

/** Sets attributes on paths the caller made and checked (absolute paths; only kept names are applied). */
export async function writeXattrs(exec: HostExec, items: Array<[string, Map<string, Buffer>]>): Promise<void> {
  if (!items.length) return;
  const input = items.map(([p, x]) => JSON.stringify([p, Object.fromEntries([...x].map(([k, v]) => [k, v.toString('base64')]))])).join('\n') + '\n';
  await exec.run(['python3', '-c', WRITE_SCRIPT], { input, timeoutMs: 60 * 60_000 });
}
