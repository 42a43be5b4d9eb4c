import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { launchBody } from './commands/instances.js';
import { resolveSshKeys } from './ssh-keys.js';

const homes: string[] = [];
/** A temp home dir, removed after the tests. */
function tempHome(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-home-'));
  homes.push(dir);
  return dir;
}
after(() => {
  for (const d of homes) rmSync(d, { recursive: true, force: true });
});

test('ssh keys: files, literal keys, private keys refused, defaults', () => {
  const home = tempHome();
  assert.deepEqual(resolveSshKeys(undefined, home), []);
  mkdirSync(join(home, '.ssh'));
  writeFileSync(join(home, '.ssh', 'id_rsa.pub'), 'ssh-rsa AAAA rsa@h\n');
  assert.deepEqual(resolveSshKeys(undefined, home), ['ssh-rsa AAAA rsa@h']);
  writeFileSync(join(home, '.ssh', 'id_ed25519.pub'), '# comment\nssh-ed25519 BBBB ed@h\n\n');
  assert.deepEqual(resolveSshKeys([], home), ['ssh-ed25519 BBBB ed@h']);
  const keys = join(home, 'keys');
  writeFileSync(keys, 'ssh-ed25519 C1\nssh-ed25519 C2\n');
  assert.deepEqual(resolveSshKeys([keys, 'ssh-ed25519 LITERAL me'], home), ['ssh-ed25519 C1', 'ssh-ed25519 C2', 'ssh-ed25519 LITERAL me']);
  const priv = join(home, 'id');
  writeFileSync(priv, '-----BEGIN OPENSSH PRIVATE KEY-----\n');
  assert.throws(() => resolveSshKeys([priv], home), /is a private key; pass the public key/);
  assert.throws(() => resolveSshKeys([join(home, 'nope.pub')], home), /does not exist/);
});

test('launchBody sends only what was given', () => {
  const home = tempHome();
  assert.deepEqual(launchBody('tiny', 'vm1', { start: true }, home), { name: 'vm1', image: 'tiny' });
  assert.deepEqual(launchBody('tiny', 'vm1', { start: false, cpus: 2, memory: '1GiB', disk: '5G', sshKey: ['ssh-ed25519 K'] }, home), {
    name: 'vm1', image: 'tiny', cpus: 2, memory: '1GiB', disk: '5G', sshKeys: ['ssh-ed25519 K'], start: false,
  });
});
