import { runArgv } from '../../../host/exec.js';

// Test support (system tests): what another user can reach. Runs node as UID:GID with no
// supplementary groups (setpriv) and tries each path the way an attacker would: open a file
// for reading (and writing, for `rw`), list a directory, connect to a unix socket.

/** What one path did for the probing user: 'ok', or the errno code (EACCES, ENOENT, ...). */
export type ProbeResult = Record<string, string>;

const SCRIPT = `
const fs = require('node:fs'); const net = require('node:net');
const { paths, rw } = JSON.parse(process.argv[1]);
const out = {};
const sock = (p) => new Promise((res) => { const s = net.connect(p); s.on('connect', () => { s.destroy(); res('ok'); }); s.on('error', (e) => res(e.code)); });
(async () => {
  for (const p of paths) {
    try {
      const st = fs.lstatSync(p);
      if (st.isSocket()) { out[p] = await sock(p); continue; }
      if (st.isDirectory()) { fs.readdirSync(p); out[p] = 'ok'; continue; }
      fs.closeSync(fs.openSync(p, rw ? 'r+' : 'r')); out[p] = 'ok';
    } catch (e) { out[p] = e.code ?? String(e); }
  }
  process.stdout.write(JSON.stringify(out));
})();
`;

/** Try every path as uid:gid (no groups); `rw` opens files read-write instead of read-only. */
export async function probeAs(uid: number, gid: number, paths: string[], rw = false): Promise<ProbeResult> {
  const r = await runArgv(['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--', process.execPath, '-e', SCRIPT, JSON.stringify({ paths, rw })], { timeoutMs: 60_000 });
  return JSON.parse(r.stdout) as ProbeResult;
}

/** The paths of `probe` that the user could reach. */
export function reachable(probe: ProbeResult): string[] {
  return Object.entries(probe).filter(([, v]) => v === 'ok').map(([p]) => p);
}
