import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentialsLine, panelLine } from './up.js';

test('nimbo up names the first admin credentials file once it exists', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-up-'));
  try {
    assert.deepEqual(credentialsLine(dir), []);
    writeFileSync(join(dir, 'admin.credentials'), '{}', { mode: 0o600 });
    assert.deepEqual(credentialsLine(dir), [`admin login: user admin, password and token in ${join(dir, 'admin.credentials')} (mode 0600; log in with: nimbo login --user admin)`]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('nimbo up prints the web panel address with the first admin login once the credentials file exists', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-up-'));
  try {
    assert.deepEqual(panelLine('http://127.0.0.1:8443', dir), ['web panel: http://127.0.0.1:8443/']);
    writeFileSync(join(dir, 'admin.credentials'), JSON.stringify({ user: 'admin', password: 'pw123', token: 't' }), { mode: 0o600 });
    assert.deepEqual(panelLine('http://127.0.0.1:8443/', dir), ['web panel: http://127.0.0.1:8443/  (user admin, password pw123)']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
