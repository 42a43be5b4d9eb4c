/** Generates docs/api/openapi.json (from the route schemas) and docs/cli.md (from the CLI's commands). */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { buildServer } from '../api/server.js';
import type { ApiContext } from '../api/context.js';
import { silentLogger } from '../lib/log.js';
import { buildProgram } from '../cli/program.js';
import { registerLifecycle } from '../cli/lifecycle.js';
import { EXIT } from '../cli/errors.js';
import { EXAMPLES } from '../cli/examples.js';

/** The OpenAPI document, built from the same schemas that validate requests. */
export async function openApiDocument(): Promise<unknown> {
  const app = await buildServer({ log: silentLogger() } as unknown as ApiContext);
  await app.ready();
  const doc = app.swagger();
  await app.close();
  return doc;
}

/** What each exit code means, for the table in docs/cli.md (a key per EXIT entry, so none is left out). */
const EXIT_MEANING: Record<keyof typeof EXIT, string> = {
  failure: 'failure: an operation failed, a check failed, anything else',
  usage: 'invalid input or usage: unknown command or option, bad or extra argument, a 400/422 from the API',
  notFound: 'not found: no such instance, image, network, volume, operation, ...',
  conflict: 'conflict: the resource is in the wrong state (e.g. delete of a running instance without --force) or the name is taken',
  unreachable: 'nimbod unreachable: nothing answers at the URL (is it running?)',
  auth: 'authentication or permission refused: missing or wrong token, or a token without the right',
};

const CONVENTIONS = [
  '## Conventions',
  '',
  '- **Output.** Every command that answers with an object takes `-o table|json|yaml` (default `table`).',
  '  For reads, `table` is a table or aligned fields; for writes it is one summary line.',
  '  With `-o json|yaml`, stdout holds the object and nothing else:',
  '  - a command that starts an operation waits for it and prints the final Operation (its `result` holds',
  '    the resource, where there is one); with `--no-wait` it prints the Operation as started;',
  '    progress goes to stderr only when stderr is a terminal;',
  '  - a command that takes many names (`stop a b c`, `delete a b`) prints one array, of the names that succeeded',
  '    (an array even for one name); errors go to stderr, one line per name, and the exit code is non-zero;',
  '  - a synchronous write prints the resource the API answered with (e.g. the SecurityGroup after `rule add`).',
  '  `events -o json` prints one JSON object per line as events come. Commands without `-o` stream or print raw',
  '  bytes (`console`, `exec`, `logs`, `file pull`, `completion`, `daemon`), run locally (`up`, `down`), or get no',
  '  object back from the API (`file push`, `network forward delete`, `firewall group delete`: 204).',
  '- **Lists.** `list`, `image list`, `network list`, `storage pool list`, `storage volume list` and',
  '  `operation list` take `--columns a,b,c` (names: the headers in lower case, spaces as dashes; an unknown',
  '  name exits 2 and lists the known ones), `--filter KEY=VALUE` (repeatable: filters on different keys must',
  '  all match, a repeated key matches any of its values; an unknown key exits 2 and lists the keys) and',
  '  `--no-header`. Values compare exactly. `list` also takes `label.KEY=VALUE` (or `label=KEY=VALUE`), matched',
  "  against the labels given at launch (`nimbo launch IMAGE NAME --label KEY=VALUE`).",
  '  Filtering is done by the CLI. `--columns` and `--no-header` shape the table; `-o json|yaml` prints whole objects.',
  '- **Names.** Operation ids may be shortened to a unique prefix. Start, stop, restart, pause, resume and delete',
  '  take many instance names.',
  '',
];

/** The CLI reference in Markdown: conventions, exit codes, then one section per command with its Examples. */
export function cliReference(): string {
  delete process.env.NIMBO_STATE_DIR; // defaults shown in help must not depend on the caller's environment
  const program = buildProgram();
  registerLifecycle(program);
  const out = ['# nimbo CLI reference', '', 'Generated from the CLI itself (`npm run docs`): `nimbo COMMAND --help` prints the same.', '', ...CONVENTIONS];
  out.push('## Exit codes', '', '| Code | Meaning |', '|---|---|', '| 0 | ok |');
  for (const [k, code] of Object.entries(EXIT) as [keyof typeof EXIT, number][]) out.push(`| ${code} | ${EXIT_MEANING[k]} |`);
  out.push('', 'A command run on many names exits with the code of the first failure.', '');
  const section = (title: string, cmd: Command, path: string) => {
    out.push(`## ${title}`, '', '```', cmd.helpInformation().trim(), '```', '');
    const ex = EXAMPLES[path];
    if (ex?.length) out.push('Examples:', '', '```sh', ...ex.flatMap((e) => [`# ${e.note}`, e.cmd]), '```', '');
  };
  const walk = (cmd: Command, path: string[]) => {
    for (const sub of cmd.commands) {
      const full = [...path, sub.name()];
      // Leaves, and commands that run on their own as well as having subcommands (snapshot schedule).
      if (sub.commands.length === 0 || (sub as unknown as { _actionHandler?: unknown })._actionHandler) section(`nimbo ${full.join(' ')}`, sub, full.join(' '));
      walk(sub, full);
    }
  };
  section('nimbo', program, '');
  walk(program, []);
  return out.join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  const root = resolve(new URL('../../..', import.meta.url).pathname);
  mkdirSync(join(root, 'docs', 'api'), { recursive: true });
  writeFileSync(join(root, 'docs', 'api', 'openapi.json'), JSON.stringify(await openApiDocument(), null, 2) + '\n');
  writeFileSync(join(root, 'docs', 'cli.md'), cliReference());
  process.stdout.write('wrote docs/api/openapi.json and docs/cli.md\n');
}
