import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkUserData, mergeUserData, partTypeOf, USER_DATA_MAX_BYTES } from './seed-user-data.js';
import { renderSeed } from './seed.js';

const NIMBO = '#cloud-config\nhostname: "web"\n';

test('mergeUserData: nimbo alone without user-data; a MIME multipart with it (golden)', () => {
  assert.equal(mergeUserData(NIMBO, undefined), NIMBO);
  const out = mergeUserData(NIMBO, '#!/bin/sh\necho hi > /run/marker');
  const b = /boundary="([^"]+)"/.exec(out)![1]!;
  assert.match(b, /^==nimbo-[0-9a-f]{24}==$/);
  assert.equal(out, [
    `Content-Type: multipart/mixed; boundary="${b}"`, 'MIME-Version: 1.0', '',
    `--${b}`, 'Content-Type: text/cloud-config; charset="utf-8"', 'MIME-Version: 1.0', '', '#cloud-config', 'hostname: "web"', '',
    `--${b}`, 'Content-Type: text/x-shellscript; charset="utf-8"', 'MIME-Version: 1.0', '', '#!/bin/sh', 'echo hi > /run/marker', '',
    `--${b}--`, '',
  ].join('\n'));
  assert.equal(mergeUserData(NIMBO, '#!/bin/sh\necho hi > /run/marker'), out, 'deterministic');
});

test('mergeUserData: a customer MIME message is one nested part; the boundary never occurs in the texts', () => {
  const mime = 'Content-Type: multipart/mixed; boundary="XX"\nMIME-Version: 1.0\n\n--XX\nContent-Type: text/cloud-config\n\n#cloud-config\n--XX--\n';
  const out = mergeUserData(NIMBO, mime);
  const b = /boundary="(==nimbo[^"]+)"/.exec(out)![1]!;
  assert.ok(out.includes(`--${b}\nContent-Type: multipart/mixed; boundary="XX"\n`));
  assert.equal(out.split(`--${b}`).length - 1, 3, 'two parts and the closing boundary');
});

test('partTypeOf: cloud-init start lines', () => {
  assert.equal(partTypeOf('#cloud-config\n'), 'text/cloud-config');
  assert.equal(partTypeOf('#!/bin/bash\n'), 'text/x-shellscript');
  assert.equal(partTypeOf('#include\nhttp://x\n'), 'text/x-include-url');
  assert.equal(partTypeOf('#cloud-boothook\n'), 'text/cloud-boothook');
  assert.equal(partTypeOf('hello'), 'text/plain');
});

test('checkUserData: 64 KiB of text at most, not empty, no NUL', () => {
  checkUserData('user-data', 'x'.repeat(USER_DATA_MAX_BYTES));
  assert.throws(() => checkUserData('user-data', 'x'.repeat(USER_DATA_MAX_BYTES + 1)), /user-data is 65537 bytes; the limit is 65536 bytes \(64 KiB\)/);
  assert.throws(() => checkUserData('vendor-data', 'é'.repeat(40000)), /vendor-data is 80000 bytes/);
  assert.throws(() => checkUserData('user-data', 'a\u0000b'), /NUL/);
  assert.throws(() => checkUserData('user-data', ' \n'), /empty/);
});

test('renderSeed: user-data joins nimbo\'s cloud-config, vendor-data is its own file', () => {
  const files = renderSeed({ instanceId: 'i-1', hostname: 'web', sshKeys: ['ssh-ed25519 AAAA k'], nics: [], userData: '#!/bin/sh\ntrue\n', vendorData: '#cloud-config\n{}\n' });
  assert.match(files['user-data']!, /^Content-Type: multipart\/mixed/);
  assert.ok(files['user-data']!.includes('ssh_authorized_keys:\n  - "ssh-ed25519 AAAA k"'));
  assert.ok(files['user-data']!.includes('#!/bin/sh\ntrue\n'));
  assert.equal(files['vendor-data'], '#cloud-config\n{}\n');
  assert.equal(files['meta-data'], 'instance-id: "i-1"\nlocal-hostname: "web"\n');
  assert.throws(() => renderSeed({ instanceId: 'i-1', hostname: 'web', sshKeys: [], nics: [], userData: 'x'.repeat(70000) }), /user-data is 70000 bytes/);
  assert.equal(renderSeed({ instanceId: 'i-1', hostname: 'web', sshKeys: [], nics: [] })['vendor-data'], undefined);
});
