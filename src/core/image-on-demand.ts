import { NimboError, asNimboError, conflict } from '../lib/errors.js';

/** What a launch does about its image: use it, wait for the build that runs, or build it first. */
export type ImageStep = 'use' | 'wait' | 'build';

/** An image record's status as a launch sees it (undefined: no such image). */
export type ImageStatus = 'building' | 'ready' | 'error' | undefined;

/** NotFound for an image that is neither there nor built-in, with where to look. */
export function imageNotFound(name: string, builtIns: readonly string[]): NimboError {
  return new NimboError('NotFound', `image ${name} not found; \`nimbo image list\` shows the images, built-in ones are: ${builtIns.join(', ')}`);
}

/** NotFound for a built-in image that is missing and whose build cannot start here: what is missing, and the command. */
export function cannotBuild(name: string, blockers: string[]): NimboError {
  return new NimboError('NotFound', `image ${name} is missing and cannot be built on this host: ${blockers.join('; ')}; once fixed, \`nimbo image build ${name}\` builds it (or launch again)`);
}

/**
 * The decision of a launch about its image (pure). A built-in image that is missing (or whose
 * last build failed) is built; a build that runs is waited for, whoever started it; anything else
 * that is not ready is an error that says what to do.
 */
export function nextStep(name: string, status: ImageStatus, buildRunning: boolean, builtIns: readonly string[]): ImageStep {
  if (buildRunning) return 'wait';
  if (status === 'ready') return 'use';
  if (!builtIns.includes(name)) {
    if (status === undefined) throw imageNotFound(name, builtIns);
    throw conflict(`image ${name} is not ready (${status})`);
  }
  // A 'building' record without a running build is left from a stopped daemon (recover() drops those).
  return status === 'building' ? 'wait' : 'build';
}

type Progress = (pct: number, message: string) => void;

interface Running {
  watchers: Set<Progress>;
  done: Promise<void>;
  /** Set once the build ended (undefined error: it succeeded, or never started and launches look again). */
  ended?: { error?: NimboError };
  resolve(): void;
}

/** The hooks of one registered build: report progress, then end it exactly once. */
export interface BuildHandle {
  progress: Progress;
  end(error?: unknown): void;
}

/**
 * Builds that run in this daemon, by image name: at most one per name, and every launch that
 * needs the image follows that one build (its progress and its end) instead of starting another.
 */
export class SharedBuilds {
  private running = new Map<string, Running>();

  /** Whether a build of `name` runs now. */
  has(name: string): boolean {
    return this.running.has(name);
  }

  /** Register a build of `name` (synchronously, so two callers cannot both start one); Conflict when one runs. */
  begin(name: string): BuildHandle {
    if (this.running.has(name)) throw conflict(`image ${name} is already being built`);
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    const run: Running = { watchers: new Set(), done, resolve };
    this.running.set(name, run);
    return {
      progress: (pct, message) => {
        for (const w of run.watchers) w(pct, message);
      },
      end: (error?: unknown) => {
        if (run.ended) return;
        run.ended = error === undefined ? {} : { error: asNimboError(error) };
        if (this.running.get(name) === run) this.running.delete(name);
        run.resolve();
      },
    };
  }

  /**
   * Follow the running build of `name` to its end, forwarding its progress; returns false when
   * none runs. Throws the build's failure (with the image named), or Cancelled when `signal` aborts:
   * the build itself goes on, for other launches.
   */
  async follow(name: string, progress: Progress, signal?: AbortSignal): Promise<boolean> {
    const run = this.running.get(name);
    if (!run) return false;
    run.watchers.add(progress);
    let onAbort: (() => void) | undefined;
    try {
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => reject(new NimboError('Cancelled', 'operation cancelled'));
        if (signal?.aborted) onAbort();
        else signal?.addEventListener('abort', onAbort, { once: true });
      });
      await Promise.race([run.done, aborted]);
    } finally {
      run.watchers.delete(progress);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
    const err = run.ended?.error;
    if (err) throw new NimboError(err.code === 'Cancelled' ? 'Cancelled' : err.code, `building image ${name} failed: ${err.message}`, err.detail, err);
    return true;
  }
}
