// Long actions of the instance page: most answer 202 + Operation; this follows it with a progress bar and shows
// the API's (or the operation's) error sentence.
import { useState } from 'preact/hooks';
import type { Operation } from '../../../src/shared/api-types.js';
import { ApiError } from '../lib/api.js';
import { useAction, waitOperation } from '../lib/hooks.js';
import { ErrorBox, Progress } from './ui.js';

/** The state of one area's actions: run one, see its progress and error. */
export interface OpRunner {
  pending: boolean;
  error?: string;
  op?: Operation;
  /** The last successful operation's own sentence (VPS actions say when the change applies). */
  done?: string;
  /** Run `fn`; when it answers { operation }, wait for it; then `after` (e.g. reload). True when it succeeded. */
  run: (fn: () => Promise<unknown>, after?: () => void) => Promise<boolean>;
}

/** Actions with progress for one area of the page. */
export function useOp(): OpRunner {
  const act = useAction();
  const [op, setOp] = useState<Operation>();
  const [done, setDone] = useState<string>();
  const run = (fn: () => Promise<unknown>, after?: () => void) =>
    act
      .run(async () => {
        setOp(undefined);
        setDone(undefined);
        const r = (await fn()) as { operation?: Operation } | undefined;
        if (r && typeof r === 'object' && r.operation?.id) {
          setOp(r.operation);
          const end = await waitOperation(r.operation, setOp);
          const said = (end.result as { message?: unknown } | undefined)?.message;
          if (typeof said === 'string') setDone(said);
        }
      })
      .then((ok) => {
        setOp(undefined);
        after?.();
        return ok;
      });
  return { pending: act.pending, error: act.error, op, done, run };
}

/** The progress of the running operation and the last error. */
export function OpStatus(props: { op: OpRunner; label: string }) {
  const { op } = props;
  return (
    <div aria-live="polite">
      {op.pending && op.op ? (
        <div class="op-status">
          <Progress value={op.op.progress} label={`${props.label} progress`} />
          <span class="muted">
            {op.op.kind}: {op.op.log[op.op.log.length - 1] ?? op.op.status} ({op.op.progress}%)
          </span>
        </div>
      ) : null}
      {!op.pending && op.done ? <p class="muted">{op.done}</p> : null}
      <ErrorBox error={op.error} />
    </div>
  );
}

/** Whether an error is a 404 (tabs that read optional things, e.g. a schedule that is not set). */
export function isNotFound(e: unknown): boolean {
  return e instanceof ApiError && e.status === 404;
}
