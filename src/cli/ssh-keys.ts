/** Reading SSH public keys for `nimbo launch --ssh-key`. */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CliError } from './errors.js';

const KEY_PREFIX = /^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-|sk-(ssh-ed25519|ecdsa-sha2-))\S*\s+\S+/;

/** The public keys in a file's text: one per non-empty, non-comment line. */
export function parseKeys(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

/** Read one --ssh-key value: a public key file (or, if no such file, a literal key). */
export function readKeyFile(file: string): string[] {
  if (!existsSync(file) && KEY_PREFIX.test(file.trim())) return [file.trim()];
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(code === 'ENOENT' ? `ssh key file ${file} does not exist` : `cannot read ssh key file ${file}: ${code ?? (e as Error).message}`);
  }
  if (text.includes('PRIVATE KEY')) throw new CliError(`${file} is a private key; pass the public key (${file}.pub)`);
  const keys = parseKeys(text);
  if (keys.length === 0) throw new CliError(`ssh key file ${file} holds no key`);
  return keys;
}

/** The keys to inject: from the given files, or else ~/.ssh/id_ed25519.pub or ~/.ssh/id_rsa.pub if present. */
export function resolveSshKeys(files: string[] | undefined, home: string = homedir()): string[] {
  if (files && files.length > 0) return files.flatMap(readKeyFile);
  for (const name of ['id_ed25519.pub', 'id_rsa.pub']) {
    const f = join(home, '.ssh', name);
    if (existsSync(f)) {
      try {
        return parseKeys(readFileSync(f, 'utf8'));
      } catch {
        return [];
      }
    }
  }
  return [];
}
