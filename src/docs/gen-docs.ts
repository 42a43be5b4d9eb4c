/** Generates docs/api/openapi.json (from the route schemas) and docs/cli.md (from the CLI's commands). */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { buildServer } from '../api/server.js';
import type { ApiContext } from '../api/context.js';
import { silentLogger } from '../core/log.js';
import { buildProgram } from '../cli/program.js';
import { registerLifecycle } from '../cli/lifecycle.js';

/** The OpenAPI document, built from the same schemas that validate requests. */
export async function openApiDocument(): Promise<unknown> {
  const app = await buildServer({ log: silentLogger() } as unknown as ApiContext);
  await app.ready();
  const doc = app.swagger();
  await app.close();
  return doc;
}

/** The CLI reference in Markdown, one section per command. */
export function cliReference(): string {
  delete process.env.NIMBO_STATE_DIR; // defaults shown in help must not depend on the caller's environment
  const program = buildProgram();
  registerLifecycle(program);
  const out = ['# nimbo CLI reference', '', 'Generated from the CLI itself (`npm run docs`). Every read command takes `-o table|json|yaml`.', ''];
  const walk = (cmd: Command, path: string[]) => {
    for (const sub of cmd.commands) {
      const full = [...path, sub.name()];
      // Leaves, and commands that run on their own as well as having subcommands (snapshot schedule).
      if (sub.commands.length === 0 || (sub as unknown as { _actionHandler?: unknown })._actionHandler) {
        out.push(`## nimbo ${full.join(' ')}`, '', '```', sub.helpInformation().trim(), '```', '');
      }
      walk(sub, full);
    }
  };
  out.push('## nimbo', '', '```', program.helpInformation().trim(), '```', '');
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
