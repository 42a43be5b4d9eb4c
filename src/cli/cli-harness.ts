/** Test helper: run the `nimbo` program (as main.ts does, without the lifecycle commands) in a child process. */
import { spawnPiped } from '../host/spawn.js';

/** What a run printed and how it ended. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A module text that runs the program as main.ts does (without the lifecycle commands): `node --input-type=module -e`. */
export const CLI_HARNESS = `
import { buildProgram } from ${JSON.stringify(new URL('./program.js', import.meta.url).href)};
import { reportError } from ${JSON.stringify(new URL('./errors.js', import.meta.url).href)};
try { await buildProgram().parseAsync(process.argv); } catch (e) { process.exitCode = reportError(e); }
`;

/** Run `nimbo ARGS` against `url` with `token`; stdin and stderr are pipes (not TTYs). */
export function runNimbo(url: string, token: string, home: string, args: string[], env: Record<string, string> = {}, stdin = ''): Promise<CliResult> {
  return new Promise((resolve) => {
    const p = spawnPiped([process.execPath, '--input-type=module', '-e', CLI_HARNESS, 'nimbo', ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: home, NIMBO_URL: url, NIMBO_TOKEN: token, NIMBO_STATE_DIR: home, ...env },
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
    p.stdin.end(stdin);
  });
}
