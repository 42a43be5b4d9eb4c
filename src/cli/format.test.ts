import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatAge, formatBytes, formatList, printable } from './format.js';
import { renderDetail, renderTable } from './output.js';
import { eventRow } from './commands/events.js';
import { intInRange, parseName, parseSize, sizeToBytes } from './validate.js';

test('formatBytes uses binary units and drops .0', () => {
  assert.equal(formatBytes(0), '0B');
  assert.equal(formatBytes(1000), '1000B');
  assert.equal(formatBytes(1536), '1.5KiB');
  assert.equal(formatBytes(512 * 2 ** 20), '512MiB');
  assert.equal(formatBytes(2 ** 30), '1GiB');
  assert.equal(formatBytes(1.5 * 2 ** 30), '1.5GiB');
  assert.equal(formatBytes(10 * 2 ** 40), '10TiB');
});

test('formatAge and formatList', () => {
  const now = Date.parse('2024-01-02T00:00:00Z');
  assert.equal(formatAge('2024-01-01T23:59:30Z', now), '30s');
  assert.equal(formatAge('2024-01-01T23:00:00Z', now), '60m');
  assert.equal(formatAge('2024-01-01T00:00:00Z', now), '24h');
  assert.equal(formatAge('2023-12-01T00:00:00Z', now), '32d');
  assert.equal(formatAge('nonsense', now), '-');
  assert.equal(formatList(['a', 'b']), 'a, b');
  assert.equal(formatList([]), '-');
});

test('parseName accepts DNS labels and explains refusals', () => {
  assert.equal(parseName('web-1'), 'web-1');
  for (const bad of ['Web', '1web', 'web_1', 'web-', '', 'a'.repeat(64)]) {
    assert.throws(() => parseName(bad, 'instance name'), /invalid instance name .*lower-case letters/);
  }
});

test('parseSize accepts units and refuses unit-less small numbers', () => {
  assert.equal(parseSize('512MiB'), '512MiB');
  assert.equal(parseSize('2G'), '2G');
  assert.equal(parseSize('1.5GiB'), '1.5GiB');
  assert.equal(parseSize('1073741824'), '1073741824');
  assert.equal(sizeToBytes('2G'), 2 * 2 ** 30);
  assert.throws(() => parseSize('lots', 'memory'), /invalid memory "lots": use a number with a unit/);
  assert.throws(() => parseSize('2048', 'memory'), /only 2048 bytes; add a unit, e.g. 2048MiB/);
  assert.throws(() => parseSize('-1G'), /invalid size/);
});

test('intInRange checks whole numbers and bounds', () => {
  const cpus = intInRange('--cpus', 1, 64);
  assert.equal(cpus('4'), 4);
  for (const bad of ['0', '65', '1.5', 'two', '']) assert.throws(() => cpus(bad), /--cpus must be a whole number from 1 to 64/);
});

test('daemon text is printed without terminal control sequences (tables, details, event rows)', () => {
  const evil = 'web\u001b]0;pwned\u0007\u001b[2J\u009b31m\r\nfake line';
  assert.equal(printable(evil), 'web?]0;pwned??[2J?31m fake line');
  assert.equal(printable('plain – text, ünïcode'), 'plain – text, ünïcode');
  assert.doesNotMatch(renderTable(['DESCRIPTION'], [[evil]]), /[\u001b\u0007\u009b]/);
  assert.equal(renderDetail({}, [['Error', evil]], 'table'), 'Error:  web?]0;pwned??[2J?31m fake line\n');
  const row = eventRow({ type: 'operation', target: 'x\u001b[1A', time: '2026-01-01T00:00:00.000Z', data: { kind: 'k', id: 'i', status: 'failure', error: { message: evil } } });
  assert.doesNotMatch(row, /[\u001b\u0007\u009b\n]/);
  // JSON keeps the data exact (escaped), for scripts.
  assert.equal(JSON.parse(JSON.stringify(evil)), evil);
});
