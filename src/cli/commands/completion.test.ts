import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Command } from 'commander';
import { buildProgram } from '../program.js';
import { bashScript, completionTree, fishScript, zshScript, type CompletionNode } from './completion.js';

const tree = completionTree(buildProgram());
const all = (n: CompletionNode): CompletionNode[] => [n, ...n.children.flatMap(all)];

/** Run the bash completion function for a command line (the last word is the one being completed). */
function complete(line: string[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-compl-'));
  try {
    writeFileSync(join(dir, 'c.bash'), bashScript(tree));
    const words = line.map((w) => `'${w}'`).join(' ');
    const r = spawnSync('bash', ['-c', `source ${dir}/c.bash; COMP_WORDS=(${words}); COMP_CWORD=${line.length - 1}; _nimbo; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split('\n').filter(Boolean).sort();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the bash script names every command and subcommand of the tree and passes bash -n', () => {
  const script = bashScript(tree);
  const program = buildProgram();
  const walk = (c: Command): Command[] => [c, ...c.commands.flatMap(walk)];
  const names = walk(program).slice(1).map((c) => c.name());
  assert.ok(names.includes('snapshot') && names.includes('events') && names.includes('completion'), 'the tree has the commands');
  for (const n of all(tree).slice(1)) assert.ok(script.includes(`'${n.path.join(' ')}'`), `bash completion mentions ${n.path.join(' ')}`);
  for (const name of names) assert.ok(script.includes(name), `mentions ${name}`);
  const r = spawnSync('bash', ['-n'], { input: script, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

test('bash completion completes commands, subcommands through aliases, flags and flag values', () => {
  assert.deepEqual(complete(['nimbo', 'sn']), ['snapshot'], 'names, not aliases, are offered');
  assert.deepEqual(complete(['nimbo', 'snap', 'sch']), ['schedule']);
  assert.deepEqual(complete(['nimbo', 'snapshot', 'schedule', 's']), ['show']);
  assert.ok(complete(['nimbo', 'events', '--']).includes('--type'));
  assert.deepEqual(complete(['nimbo', 'events', '-o', '']), ['json', 'table', 'yaml']);
  assert.ok(complete(['nimbo', '--url', 'x', 'li']).includes('list'), 'options before the command are skipped');
});

test('zsh and fish scripts are generated from the same tree', () => {
  const z = zshScript(tree);
  assert.match(z, /^#compdef nimbo/);
  assert.match(z, /'snapshot schedule show'\) cmdpath=/);
  const f = fishScript(tree);
  assert.match(f, /complete -c nimbo -n '__fish_use_subcommand' -a 'events' -d '/);
  assert.match(f, /complete -c nimbo -n '__fish_seen_subcommand_from events' -l type/);
  for (const n of tree.children) assert.ok(f.includes(`-a '${n.path[0]}'`), `fish names ${n.path[0]}`);
  const zr = spawnSync('bash', ['-c', 'command -v zsh'], { encoding: 'utf8' });
  if (zr.status === 0) assert.equal(spawnSync('zsh', ['-n'], { input: z }).status, 0, 'zsh -n');
});
