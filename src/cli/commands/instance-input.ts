/** Pure helpers of the instance commands: --label values, and the wording of a refused delete. */
import { CliError, EXIT } from '../errors.js';

/** --label KEY=VALUE values as an object (the daemon checks keys and values); a key given twice is refused. */
export function parseLabels(specs: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const s of specs) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new CliError(`--label "${s}" must be KEY=VALUE`, { exitCode: EXIT.usage });
    const k = s.slice(0, eq);
    if (k in labels) throw new CliError(`--label ${k} is given twice`, { exitCode: EXIT.usage });
    labels[k] = s.slice(eq + 1);
  }
  return labels;
}

/**
 * A refused delete of an instance that is not stopped, reworded to say what to do; other errors as they are.
 * The daemon answers 409 "instance NAME is STATE: ..." (exit 4, conflict, either way).
 */
export function deleteRefusal(e: unknown, name: string): unknown {
  if (!(e instanceof CliError) || e.code !== 'Conflict') return e;
  const m = /^instance \S+ is (running|paused|starting|stopping|error)\b/.exec(e.message);
  if (!m) return e;
  return new CliError(`instance ${name} is ${m[1]}; stop it first (nimbo stop ${name}) or pass --force`, { kind: e.kind, code: e.code, status: e.status });
}
