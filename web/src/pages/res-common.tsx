// Shared parts of the resource and admin pages: long actions (202 + Operation) with a progress bar,
// a delete button that asks first, and small form helpers.
import { useState } from 'preact/hooks';
import type { ComponentChildren } from 'preact';
import type { Operation } from '../../../src/shared/api-types.js';
import { useAction, waitOperation } from '../lib/hooks.js';
import { Button, ErrorBox, Progress, type Column } from '../components/ui.js';

/** What a long route answers: 202 with the Operation that does the work. */
export interface Accepted {
  operation: Operation;
}

/** Run actions that answer an Operation and wait for it, showing its progress; `done` runs afterwards either way. */
export function useOp() {
  const act = useAction();
  const [op, setOp] = useState<Operation>();
  const [last, setLast] = useState<Operation>();
  const run = async (fn: () => Promise<Accepted | unknown>, done?: () => void): Promise<boolean> => {
    setLast(undefined);
    const ok = await act.run(async () => {
      const r = await fn();
      const o = (r as Accepted | undefined)?.operation;
      if (o) setLast(await waitOperation(o, (x) => setOp({ ...x })));
    });
    setOp(undefined);
    done?.();
    return ok;
  };
  return { pending: act.pending, error: act.error, clear: act.clear, op, last, run };
}

/** The running Operation's progress bar and its error sentence. */
export function OpStatus(props: { op?: Operation; error?: string; label?: string }) {
  return (
    <>
      {props.op ? (
        <div class="op-status" aria-live="polite">
          <span class="muted">
            {props.label ?? props.op.kind} {props.op.target}: {props.op.status} {props.op.progress}%
          </span>
          <Progress value={props.op.progress} label={`${props.label ?? props.op.kind} progress`} />
        </div>
      ) : null}
      <ErrorBox error={props.error} />
    </>
  );
}

/** What the last finished Operation answered (a verify's findings, a gc's counts), when it has a result. */
export function OpResult(props: { op?: Operation }) {
  const r = props.op?.result;
  if (r === undefined || r === null) return null;
  return (
    <div role="status">
      <p class="muted">
        {props.op!.kind} {props.op!.target}: done
      </p>
      <pre class="op-result">{JSON.stringify(r, null, 2)}</pre>
    </div>
  );
}

/** A button that asks for confirmation before it acts ("Delete", then "Confirm delete" / "Cancel"). */
export function ConfirmButton(props: { label?: string; confirm?: string; disabled?: boolean; onConfirm: () => void; title?: string }) {
  const [asking, setAsking] = useState(false);
  const label = props.label ?? 'Delete';
  if (!asking)
    return (
      <Button kind="plain" disabled={props.disabled} title={props.title} onClick={() => setAsking(true)}>
        {label}
      </Button>
    );
  return (
    <span class="confirm">
      <Button
        kind="danger"
        onClick={() => {
          setAsking(false);
          props.onConfirm();
        }}
      >
        {props.confirm ?? `Confirm ${label.toLowerCase()}`}
      </Button>
      <Button onClick={() => setAsking(false)}>Cancel</Button>
    </span>
  );
}

/** A form that does not reload the page: calls `onSubmit` and shows its children inline. */
export function Form(props: { onSubmit: () => void; label: string; children: ComponentChildren; class?: string }) {
  return (
    <form
      class={props.class ?? 'inline'}
      aria-label={props.label}
      onSubmit={(e) => {
        e.preventDefault();
        props.onSubmit();
      }}
    >
      {props.children}
    </form>
  );
}

/** A number from a form field, or undefined when empty (see lib/res-values.ts). */
export { num } from '../lib/res-values.js';

/** Component of a path, escaped. */
export const enc = encodeURIComponent;

/** A column only when `show` (an Actions column for a caller who may act; none for a viewer). */
export function when<T>(show: boolean, col: Column<T>): Column<T>[] {
  return show ? [col] : [];
}
