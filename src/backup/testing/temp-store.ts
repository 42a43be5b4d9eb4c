// Test helpers: a datastore in a fresh temp dir (removed by cleanup) and a manifest with defaults.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecOptions, ExecResult, HostExec } from '../../host/exec.js';
import { Datastore } from '../datastore.js';
import type { BackupManifest } from '../manifest.js';

/** A HostExec for tests that records argv and calls `onRun` (e.g. to check the store when `sync -f` runs). */
export class SyncRecorder implements HostExec {
  readonly calls: string[][] = [];
  constructor(private readonly onRun?: (argv: string[]) => void | Promise<void>) {}
  async run(argv: string[], _opts?: ExecOptions): Promise<ExecResult> {
    this.calls.push(argv);
    await this.onRun?.(argv);
    return { stdout: '', stderr: '', code: 0 };
  }
}

/** A new datastore under os.tmpdir() (prefix nimbo-test-ds-) and its cleanup. */
export async function tempStore(opts: Parameters<typeof Datastore.create>[1] = {}): Promise<{ ds: Datastore; root: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'nimbo-test-ds-'));
  const ds = await Datastore.create(join(root, 'store'), { exec: new SyncRecorder(), ...opts });
  return { ds, root, cleanup: () => rm(root, { recursive: true, force: true }) };
}

/** A valid manifest with test defaults, overridden by `over`. */
export function testManifest(over: Partial<BackupManifest> = {}): BackupManifest {
  return {
    format: 1,
    id: '20261205T141500Z-0001',
    project: 'default',
    instance: { name: 'vm1', uuid: '11111111-2222-3333-4444-555555555555', type: 'virtual-machine' },
    time: '2026-12-05T14:15:00.000Z',
    source: 'block',
    mode: 'full',
    consistency: 'stopped',
    config: { cpus: 1 },
    archives: [],
    keyFingerprint: null,
    stats: { bytesRead: 0, bytesNew: 0, chunksNew: 0, chunksReused: 0, seconds: 0 },
    ...over,
  };
}
