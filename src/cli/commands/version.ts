/** `nimbo version`: the client's version, and the daemon's and the API's when nimbod answers. */
import type { Command } from 'commander';
import { oneLine } from '../errors.js';
import { outputOption, renderDetail } from '../output.js';
import { clientFor, formatOf, out } from './common.js';

/** The API version this client speaks (the /api/v1 prefix of every route). */
export const API_VERSION = 'v1';

/** Register `nimbo version`; `clientVersion` is the package version main knows. */
export function registerVersionCommand(program: Command, clientVersion: string): void {
  program
    .command('version')
    .description('show the client, server and API versions (the client version even when nimbod is down)')
    .addOption(outputOption())
    .action(async (_o: unknown, cmd: Command) => {
      const v: { client: string; server?: string; api: string; serverError?: string } = { client: clientVersion, api: API_VERSION };
      try {
        v.server = (await clientFor(cmd).version()).version;
      } catch (e) {
        // Still useful without a daemon: say why the server part is missing, and succeed.
        v.serverError = oneLine(e instanceof Error ? e.message : String(e));
      }
      const fields: [string, string][] = [
        ['Client version', v.client],
        ['Server version', v.server ?? `unavailable (${v.serverError})`],
        ['API version', v.api],
      ];
      out(renderDetail(v, fields, formatOf(cmd)));
    });
}
