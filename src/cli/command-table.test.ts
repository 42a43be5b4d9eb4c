import assert from 'node:assert/strict';
import { test } from 'node:test';
import { COMMAND_MODULES, commandWord, fullProgram, programFor } from './command-table.js';
import { baseProgram } from './program-base.js';

const namesOf = (p: Awaited<ReturnType<typeof fullProgram>>) => p.commands.flatMap((c) => [c.name(), ...c.aliases()]);

test('each table entry registers exactly the commands it lists', async () => {
  for (const m of COMMAND_MODULES) {
    const p = baseProgram('0.0.0');
    await m.register(p);
    assert.deepEqual(namesOf(p).sort(), [...m.names].sort());
  }
});

test('the table covers every command of the full program but completion (which needs the whole tree)', async () => {
  const full = namesOf(await fullProgram()).sort();
  const table = COMMAND_MODULES.flatMap((m) => m.names);
  assert.equal(new Set(table).size, table.length, 'a name in two entries');
  assert.deepEqual([...table, 'completion'].sort(), full);
});

test('commandWord skips global options and their values', () => {
  assert.equal(commandWord(['list']), 'list');
  assert.equal(commandWord(['--url', 'http://x', '--token-file', 't', '--remote', 'prod', 'info', 'vm1']), 'info');
  assert.equal(commandWord(['--url=http://x', '--tls-ca', 'ca.pem', '--tls-fingerprint', 'AB', 'ls']), 'ls');
  assert.equal(commandWord(['--help']), undefined);
  assert.equal(commandWord([]), undefined);
  assert.equal(commandWord(['--', 'list']), undefined);
});

test('a known command gets only its module; help, completion and typos get everything', async () => {
  assert.deepEqual(namesOf(await programFor(['--url', 'http://x', 'list'])).sort(), [...COMMAND_MODULES[0]!.names].sort());
  assert.deepEqual(namesOf(await programFor(['storage', 'pool', 'ls'])), ['storage']);
  const all = namesOf(await fullProgram()).length;
  for (const args of [[], ['--help'], ['help', 'list'], ['completion', 'bash'], ['lsit']]) {
    assert.equal(namesOf(await programFor(args)).length, all, args.join(' '));
  }
});
