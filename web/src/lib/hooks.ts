// Data hooks: load from the API with loading/error state, and run actions with their error shown.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError } from './api.js';
import type { Operation } from '../../../src/shared/api-types.js';

/** The state of a load: data once loaded, the error sentence when it failed. */
export interface Loaded<T> {
  data?: T;
  error?: string;
  loading: boolean;
  reload: () => void;
}

/** Load `fn()` now and whenever `deps` change; `reload()` loads again (keeping the old data meanwhile). */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[] = []): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: true });
  const seq = useRef(0);
  const run = useCallback(() => {
    const n = ++seq.current;
    setState((s) => ({ ...s, loading: true }));
    fn().then(
      (data) => n === seq.current && setState({ data, loading: false }),
      (e: unknown) => n === seq.current && setState((s) => ({ data: s.data, error: message(e), loading: false })),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(run, [run]);
  return { ...state, reload: run };
}

/** Run actions one at a time, with `pending` and the last error's sentence. */
export function useAction(): { pending: boolean; error?: string; run: (fn: () => Promise<unknown>) => Promise<boolean>; clear: () => void } {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string>();
  const run = useCallback(async (fn: () => Promise<unknown>) => {
    setPending(true);
    setError(undefined);
    try {
      await fn();
      return true;
    } catch (e) {
      setError(message(e));
      return false;
    } finally {
      setPending(false);
    }
  }, []);
  return { pending, error, run, clear: () => setError(undefined) };
}

/** Call `fn` every `ms` while the component is shown (and the tab visible). */
export function useInterval(fn: () => void, ms: number): void {
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => {
    const t = setInterval(() => document.visibilityState === 'visible' && ref.current(), ms);
    return () => clearInterval(t);
  }, [ms]);
}

/** The sentence to show for an error: the API's own, or a plain one (never a stack trace). */
export function message(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error && e.message) return e.message;
  return 'something went wrong';
}

/** Wait until an Operation ends (polling), calling `progress` on each change; throws its error sentence if it failed. */
export async function waitOperation(op: Operation, progress?: (op: Operation) => void): Promise<Operation> {
  let cur = op;
  while (cur.status === 'pending' || cur.status === 'running') {
    progress?.(cur);
    await new Promise((r) => setTimeout(r, 700));
    cur = await api.get<Operation>(`/operations/${encodeURIComponent(op.id)}`);
  }
  progress?.(cur);
  if (cur.status !== 'success') throw new ApiError(500, cur.error?.code ?? 'Failed', cur.error?.message ?? `the operation ${cur.status === 'cancelled' ? 'was cancelled' : 'failed'}`);
  return cur;
}
