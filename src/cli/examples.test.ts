import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { runNimbo } from './cli-harness.js';
import { EXAMPLES, commandPath, examplesText } from './examples.js';
import { registerLifecycle } from './lifecycle.js';
import { buildProgram } from './program.js';

const MAJOR = ['launch', 'list', 'exec', 'console', 'snapshot create', 'snapshot schedule', 'network create', 'network forward add', 'firewall group rule add', 'storage pool create', 'storage volume create', 'image build', 'copy', 'up', 'rebuild', 'rescue', 'resize'];

function program(): Command {
  const p = buildProgram();
  registerLifecycle(p);
  return p;
}

/** Words of a command line, with "..." quoting (enough for the examples). */
function words(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

/** The command an example line runs and the flags it gives that command (up to `--`). */
function resolve(root: Command, line: string): { cmd: Command; flags: string[] } {
  const w = words(line);
  assert.ok(w[0] === 'nimbo' || (w[0] === 'sudo' && w[1] === './nimbo'), `${line}: starts with nimbo`);
  let rest = w.slice(w[0] === 'sudo' ? 2 : 1);
  let cmd = root;
  for (;;) {
    const next = cmd.commands.find((c) => c.name() === rest[0] || c.aliases().includes(rest[0] ?? ''));
    if (!next) break;
    cmd = next;
    rest = rest.slice(1);
  }
  const end = rest.indexOf('--');
  return { cmd, flags: (end < 0 ? rest : rest.slice(0, end)).filter((x) => x.startsWith('-')) };
}

test('every major command has examples, and every example runs a real command with flags it has', () => {
  const root = program();
  for (const m of MAJOR) assert.ok((EXAMPLES[m]?.length ?? 0) > 0, `${m} has no examples`);
  for (const [path, list] of Object.entries(EXAMPLES)) {
    for (const e of list) {
      const { cmd, flags } = resolve(root, e.cmd);
      assert.notEqual(cmd, root, `${e.cmd}: names no command`);
      assert.ok(commandPath(cmd) === path || commandPath(cmd).startsWith(`${path} `), `${e.cmd}: runs "${commandPath(cmd)}", listed under "${path}"`);
      const known = new Set([...cmd.options, ...root.options].flatMap((o) => [o.long, o.short]).filter(Boolean));
      for (const f of flags) assert.ok(known.has(f.split('=')[0]!), `${e.cmd}: ${commandPath(cmd)} has no option ${f}`);
      assert.ok(e.note.length > 0 && !e.note.endsWith('.'), `${e.cmd}: a short note`);
    }
  }
});

test('examplesText is the help block; commands without examples get none', () => {
  assert.equal(examplesText('no such command'), '');
  assert.match(examplesText('launch'), /^\nExamples:\n {2}# a VM from the built-in tiny image\n {2}\$ nimbo launch tiny vm1\n/);
});

test('--help shows the Examples of a command (once), also for nested commands', async () => {
  const home = mkdtempSync(join(tmpdir(), 'nimbo-ex-'));
  try {
    const l = await runNimbo('http://127.0.0.1:9', 'x', home, ['launch', '--help']);
    assert.equal(l.code, 0, l.stderr);
    assert.equal(l.stdout.match(/^Examples:$/gm)?.length, 1);
    assert.match(l.stdout, /\$ nimbo launch debian-12 web --cpus 2 --memory 2GiB --disk 20GiB\n/);
    const f = await runNimbo('http://127.0.0.1:9', 'x', home, ['network', 'forward', 'add', '--help']);
    assert.match(f.stdout, /Examples:\n {2}# the host's port 2222/);
    const i = await runNimbo('http://127.0.0.1:9', 'x', home, ['host', 'info', '--help']);
    assert.doesNotMatch(i.stdout, /Examples:/);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
