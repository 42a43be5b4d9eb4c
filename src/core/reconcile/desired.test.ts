import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DriverEvent, InstanceStatus } from '../../drivers/compute/instance-driver.js';
import type { InstanceRecord } from '../instance-record.js';
import { CREATION_INTERRUPTED, decide, desiredOf, exitWanted, MAX_FAILED_STARTS, powerAfterBoot, restartDelayMs, type Decision, type Why } from './desired.js';

type Rec = Pick<InstanceRecord, 'name' | 'state' | 'desired' | 'container' | 'error'> & { driverConfig?: unknown };
const rec = (state: InstanceRecord['state'], power?: 'running' | 'stopped' | 'paused', autostart: 'last-state' | 'always' | 'never' = 'last-state', extra: Partial<Rec> = {}): Rec => ({
  name: 'i1',
  state,
  ...(power ? { desired: { power, autostart } } : {}),
  ...extra,
});
const st = (state: InstanceStatus['state'], exitCode?: number | null): InstanceStatus => ({ state, pid: state === 'stopped' ? null : 42, ...(exitCode !== undefined ? { exitCode } : {}) });
const exited = (requested: boolean, exitCode: number | null = null): DriverEvent => ({ type: 'exited', uuid: 'u', exitCode, requested });
const app = (restart: 'never' | 'on-failure' | 'always') =>
  ({ container: { kind: 'app', app: { args: ['x'], env: [], cwd: '/', uid: 0, gid: 0, restart } } }) as unknown as Partial<Rec>;

// [what, record, observed, why, event, expected (action, state, power, error)]
const rows: [string, Rec, InstanceStatus, Why, DriverEvent | undefined, Partial<Decision>][] = [
  ['crash while running → start', rec('running', 'running'), st('stopped'), 'event', exited(false, 137), { action: 'start', state: undefined, power: undefined }],
  ['guest poweroff → stays off, desired stopped', rec('running', 'running'), st('stopped'), 'event', exited(true, 0), { action: 'mark-stopped', state: 'stopped', power: 'stopped' }],
  ['resync, QEMU gone without exit code → start', rec('running', 'running'), st('stopped'), 'resync', undefined, { action: 'start' }],
  ['resync, container init exited 0 → stays off', rec('running', 'running'), st('stopped', 0), 'resync', undefined, { action: 'mark-stopped', power: 'stopped' }],
  ['app restart=always, exit 0 → start', rec('running', 'running', 'last-state', app('always')), st('stopped', 0), 'resync', undefined, { action: 'start' }],
  ['app on-failure, exit 0 → stays off', rec('running', 'running', 'last-state', app('on-failure')), st('stopped', 0), 'resync', undefined, { action: 'mark-stopped' }],
  ['app on-failure, exit 2 → start', rec('running', 'running', 'last-state', app('on-failure')), st('stopped', 2), 'resync', undefined, { action: 'start' }],
  ['app (version-2 record: driverConfig) on-failure, exit 0 → stays off', rec('running', 'running', 'last-state', { driverConfig: { kind: 'app', app: { restart: 'on-failure' } } } as Partial<Rec>), st('stopped', 0), 'resync', undefined, { action: 'mark-stopped' }],
  ['app never, exit 2 → stays off', rec('running', 'running', 'last-state', app('never')), st('stopped', 2), 'resync', undefined, { action: 'mark-stopped' }],
  ['daemon start, crashed while the daemon was down → start', rec('running', 'running'), st('stopped'), 'daemon-start', undefined, { action: 'start' }],
  ['daemon start, running as desired → none', rec('running', 'running'), st('running'), 'daemon-start', undefined, { action: 'none', state: undefined, power: undefined }],
  ['daemon start, record stopped but it runs → adopted (left running)', rec('stopped', 'stopped'), st('running'), 'daemon-start', undefined, { action: 'none', state: 'running', power: 'running' }],
  ['daemon start, record stopping but it runs → adopted', rec('stopping', 'stopped'), st('running'), 'daemon-start', undefined, { action: 'none', state: 'running', power: 'running' }],
  ['daemon start, paused → adopted paused', rec('running', 'running'), st('paused'), 'daemon-start', undefined, { action: 'none', state: 'paused', power: 'paused' }],
  ['while running, desired stopped but it runs → stop', rec('running', 'stopped'), st('running'), 'resync', undefined, { action: 'stop', state: 'stopping' }],
  ['stopped as desired → none', rec('stopped', 'stopped'), st('stopped'), 'resync', undefined, { action: 'none', state: undefined }],
  ['stopped, record says running, desired stopped → note stopped', rec('running', 'stopped'), st('stopped'), 'event', exited(true, 0), { action: 'none', state: 'stopped' }],
  ['desired paused, running → pause', rec('running', 'paused'), st('running'), 'resync', undefined, { action: 'pause' }],
  ['desired running, paused → resume', rec('paused', 'running'), st('paused'), 'event', { type: 'paused', uuid: 'u' }, { action: 'resume' }],
  ['creating at daemon start → error with the message', rec('creating', 'running'), st('stopped'), 'daemon-start', undefined, { action: 'mark-error', state: 'error', error: CREATION_INTERRUPTED }],
  ['creating at host boot → error', rec('creating', 'running'), st('stopped'), 'host-boot', undefined, { action: 'mark-error', error: CREATION_INTERRUPTED }],
  ['creating on resync (its create holds the lock) → none', rec('creating', 'running'), st('stopped'), 'resync', undefined, { action: 'none' }],
  ['error → left for the user', rec('error', 'running'), st('stopped'), 'host-boot', undefined, { action: 'none', state: undefined }],
  ['error but running → noted running', rec('error', 'running'), st('running'), 'resync', undefined, { action: 'none', state: 'running' }],
  ['host boot, autostart never, was running → desired stopped', rec('running', 'running', 'never'), st('stopped'), 'host-boot', undefined, { action: 'none', state: 'stopped', power: 'stopped' }],
  ['host boot, autostart always, was stopped → start', rec('stopped', 'stopped', 'always'), st('stopped'), 'host-boot', undefined, { action: 'start', power: 'running' }],
  ['host boot, last-state running → start', rec('running', 'running'), st('stopped', 0), 'host-boot', undefined, { action: 'start', power: undefined }],
  ['host boot, last-state stopped → stays stopped', rec('stopped', 'stopped'), st('stopped'), 'host-boot', undefined, { action: 'none', state: undefined, power: undefined }],
  ['host boot, last-state paused → boots', rec('paused', 'paused'), st('stopped'), 'host-boot', undefined, { action: 'start', power: 'running' }],
  ['version-1 record (no desired), running → desired written', rec('running'), st('running'), 'daemon-start', undefined, { action: 'none', power: 'running' }],
  ['version-1 record stopped → desired stopped written', rec('stopped'), st('stopped'), 'daemon-start', undefined, { action: 'none', power: 'stopped' }],
];

for (const [what, r, s, why, ev, want] of rows) {
  test(`decide: ${what}`, () => {
    const got = decide(r, s, why, ev);
    for (const [k, v] of Object.entries(want)) assert.deepEqual(got[k as keyof Decision], v, `${k} (${got.reason})`);
  });
}

test('desiredOf derives version-1 records from their state; powerAfterBoot follows the policy', () => {
  assert.deepEqual(desiredOf({ state: 'starting' }), { power: 'running', autostart: 'last-state' });
  assert.deepEqual(desiredOf({ state: 'error' }), { power: 'stopped', autostart: 'last-state' });
  assert.equal(powerAfterBoot({ power: 'running', autostart: 'never' }), 'stopped');
  assert.equal(powerAfterBoot({ power: 'stopped', autostart: 'always' }), 'running');
  assert.equal(powerAfterBoot({ power: 'stopped', autostart: 'last-state' }), 'stopped');
  assert.equal(exitWanted({}, null), false);
  assert.equal(exitWanted({}, 0), true);
});

test('restart backoff: 0 after a stable run, then 1 s, 2, 4 … capped at 60 s; error after 5', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7, 10].map(restartDelayMs), [0, 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]);
  assert.equal(MAX_FAILED_STARTS, 5);
});
