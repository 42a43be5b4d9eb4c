// Where the CLI keeps what it needs per remote: `$NIMBO_CONFIG_DIR` (default ~/.config/nimbo), mode 0700,
// with one token file per remote in credentials/NAME.token, mode 0600. Tokens never go on a command line.
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The CLI's configuration directory. */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.NIMBO_CONFIG_DIR || join(env.HOME || homedir(), '.config', 'nimbo');
}

/** The file holding the token of remote `remote`. */
export function tokenFile(remote: string, env: NodeJS.ProcessEnv = process.env): string {
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(remote)) throw new Error(`remote name ${JSON.stringify(remote)} is not valid`);
  return join(configDir(env), 'credentials', `${remote}.token`);
}

/** Store `token` for `remote` (file mode 0600 in a 0700 directory). */
export function saveToken(remote: string, token: string, env: NodeJS.ProcessEnv = process.env): string {
  const dir = join(configDir(env), 'credentials');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(configDir(env), 0o700);
  chmodSync(dir, 0o700);
  const file = tokenFile(remote, env);
  writeFileSync(file, token + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}

/** The stored token of `remote`, if any. */
export function loadToken(remote: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  try {
    return readFileSync(tokenFile(remote, env), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Forget the token of `remote`. */
export function removeToken(remote: string, env: NodeJS.ProcessEnv = process.env): void {
  rmSync(tokenFile(remote, env), { force: true });
}
