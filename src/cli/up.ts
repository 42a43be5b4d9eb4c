import { existsSync, openSync, readFileSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiClient } from './client.js';
import { CliError } from './errors.js';
import { followOperation } from './progress.js';
import { runArgv } from '../host/exec.js';
import { spawnArgv } from '../host/spawn.js';
import { statePaths } from '../core/config.js';
import { resolveEndpoint } from './endpoint.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Options of `nimbo up`. */
export interface UpOptions {
  stateDir: string;
  listen: string;
  demo: boolean;
}

/** A client of the daemon on this state dir, from its daemon.json (URL, and certificate pin when TLS is on). */
function localClient(o: UpOptions, withToken: boolean): ApiClient {
  const ep = resolveEndpoint({ remote: 'local' }, { NIMBO_STATE_DIR: o.stateDir });
  return new ApiClient(ep.url, withToken ? readToken(statePaths(o.stateDir).token) : undefined, { tls: ep.tls });
}

/** Start nimbod in the background unless it already answers; returns a client. */
async function ensureDaemon(o: UpOptions): Promise<ApiClient> {
  const paths = statePaths(o.stateDir);
  const answers = () => localClient(o, false).health().then(() => true, () => false);
  if (existsSync(paths.daemonJson) && (await answers())) return localClient(o, true);
  mkdirSync(paths.logs, { recursive: true });
  const out = openSync(join(paths.logs, 'nimbod.out'), 'a');
  const main = fileURLToPath(new URL('./main.js', import.meta.url));
  const child = spawnArgv([process.execPath, main, 'daemon', '--state-dir', o.stateDir, '--listen', o.listen], { detached: true, stdio: ['ignore', out, out] });
  child.unref();
  process.stderr.write(`nimbo: starting nimbod (pid ${child.pid}, log ${join(paths.logs, 'nimbod.out')})\n`);
  for (let i = 0; i < 240; i++) {
    // The new daemon rewrites daemon.json once its API listens (https and a fingerprint beyond loopback).
    if (existsSync(paths.daemonJson) && (await answers())) return localClient(o, true);
    if (child.exitCode !== null) break;
    await sleep(500);
  }
  throw new CliError(`nimbod did not come up; see ${join(paths.logs, 'nimbod.out')}`);
}

/** The line naming the first admin's credentials file (user, password, token; mode 0600), when it exists. */
export function credentialsLine(stateDir: string): string[] {
  const file = statePaths(stateDir).adminCredentials;
  return existsSync(file) ? [`admin login: user admin, password and token in ${file} (mode 0600; log in with: nimbo login --user admin)`] : [];
}

/** The web panel's address and the first admin's login, read from the credentials file (root's terminal only). */
export function panelLine(baseUrl: string, stateDir: string): string[] {
  const file = statePaths(stateDir).adminCredentials;
  let login = '';
  try {
    const c = JSON.parse(readFileSync(file, 'utf8')) as { user?: string; password?: string };
    if (c.user && c.password) login = `  (user ${c.user}, password ${c.password})`;
  } catch {
    login = '';
  }
  return [`web panel: ${baseUrl.replace(/\/$/, '')}/${login}`];
}

function readToken(file: string): string {
  return readFileSync(file, 'utf8').trim();
}

/** The SSH public key for the demo VM: the user's own, or a key pair made in the state dir. */
async function demoKey(stateDir: string): Promise<{ pub: string; identity?: string }> {
  for (const f of ['id_ed25519.pub', 'id_rsa.pub', 'id_ecdsa.pub']) {
    const p = join(homedir(), '.ssh', f);
    if (existsSync(p)) return { pub: readFileSync(p, 'utf8').trim() };
  }
  const key = join(stateDir, 'demo_ed25519');
  if (!existsSync(key)) await runArgv(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'nimbo-demo', '-f', key]);
  return { pub: readFileSync(`${key}.pub`, 'utf8').trim(), identity: key };
}

/** `nimbo up`: daemon, the tiny image, a demo VM, and how to reach it. */
export async function runUp(o: UpOptions): Promise<void> {
  if (process.getuid?.() !== 0) throw new CliError('nimbo up must run as root (it manages bridges, taps and nftables)');
  const client = await ensureDaemon(o);
  const images = await client.listImages();
  if (!images.some((i) => i.name === 'tiny' && i.status === 'ready')) {
    process.stderr.write('nimbo: building the tiny image\n');
    await followOperation(client, await client.buildImage({ name: 'tiny' }));
  }
  const host = await client.host();
  const lines = [`nimbod is up at ${client.baseUrl} (accelerator: ${host.accelerator})`, ...panelLine(client.baseUrl, o.stateDir), `admin token: ${statePaths(o.stateDir).token}`, ...credentialsLine(o.stateDir)];
  if (o.demo) {
    const key = await demoKey(o.stateDir);
    let demo = (await client.listInstances()).find((i) => i.name === 'demo');
    if (!demo) {
      process.stderr.write('nimbo: launching the demo VM\n');
      await followOperation(client, await client.createInstance({ name: 'demo', image: 'tiny', sshKeys: [key.pub] }));
    } else if (demo.state === 'stopped') {
      await followOperation(client, await client.instanceAction('demo', 'start'));
    }
    demo = await client.getInstance('demo');
    const ready = await waitReady(client, 'demo', 120_000);
    const addr = demo.addresses[0] ?? '(none)';
    lines.push(
      `demo VM: ${demo.state}${ready ? ', booted' : ', still booting'}, address ${addr}`,
      `  console: ./nimbo console demo   (detach with Ctrl-]), or in the web panel: Instances > demo > Console`,
      `  ssh:     ssh ${key.identity ? `-i ${key.identity} ` : ''}root@${addr}`,
    );
  }
  lines.push('stop the daemon with ./nimbo down (VMs keep running)');
  process.stdout.write(lines.join('\n') + '\n');
}

/** Wait for the guest's ready marker on its serial console. */
export async function waitReady(client: ApiClient, name: string, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const log = await client.consoleLog(name, 65536).catch(() => '');
    if (/NIMBO-READY/.test(log)) return true;
    await sleep(500);
  }
  return false;
}

/** `nimbo down`: stop the daemon (SIGTERM), leaving instances running. */
export async function runDown(o: { stateDir: string }): Promise<void> {
  const pidFile = statePaths(o.stateDir).pidFile;
  if (!existsSync(pidFile)) {
    process.stdout.write('nimbod is not running\n');
    return;
  }
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    process.stdout.write('nimbod is not running (stale pidfile)\n');
    return;
  }
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      process.stdout.write('nimbod stopped; instances keep running\n');
      return;
    }
    await sleep(100);
  }
  throw new CliError(`nimbod (pid ${pid}) did not stop within 10s`);
}
