import { invalid } from '../../lib/errors.js';

/** Checks a relative seed path (`nimbo/hostname`): no absolute paths, no `..`, no odd characters. */
export function checkSeedPath(p: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/.test(p) || p.split('/').includes('..')) {
    throw invalid(`invalid seed file path ${JSON.stringify(p)}`);
  }
}
