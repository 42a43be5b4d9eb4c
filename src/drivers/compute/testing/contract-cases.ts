// The cases of the instance-driver contract, in the order one instance lives through them. They branch
// only on capabilities (and on what the target offers: a NIC, a volume), never on the driver's name.
import assert from 'node:assert/strict';
import type { DriverCapabilities } from '../instance-driver.js';
import { rejectsWith, statusBecomes, until, type InstanceContractCase, type InstanceContractCtx } from './contract-kit.js';

const oneOf = <T>(v: T, allowed: T[], what: string) => assert.ok(allowed.includes(v), `${what}: ${String(v)} is not one of ${allowed.join(', ')}`);

function checkCaps(caps: DriverCapabilities): void {
  oneOf(caps.kind, ['vm', 'container'], 'kind');
  oneOf(caps.root, ['image-clone', 'filesystem'], 'root');
  oneOf(caps.volumeKind, ['block', 'filesystem'], 'volumeKind');
  oneOf(caps.snapshots, ['disk-images', 'pool-volumes'], 'snapshots');
  oneOf(caps.console, ['serial', 'pty'], 'console');
  for (const k of ['rootQuota', 'accelerator', 'processLimits', 'app', 'volumeMountPath', 'liveDiskResize', 'unplugBootNics', 'statefulSnapshots', 'exec'] as const)
    assert.equal(typeof caps[k], 'boolean', `capability ${k} is a boolean`);
  if (caps.volumeMountPath) assert.equal(caps.volumeKind, 'filesystem', 'a mount path only makes sense for filesystem volumes');
  if (caps.rootQuota) assert.equal(caps.root, 'filesystem', 'a root quota is for filesystem roots');
  if (!caps.exec) assert.ok(caps.execHint === undefined || typeof caps.execHint === 'string');
}

/** Read the whole stdout of a child and its exit code. */
async function drain(child: import('../../../host/spawn.js').ChildProcess): Promise<{ out: string; code: number | null }> {
  let out = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  const code = await new Promise<number | null>((r) => child.once('close', (c: number | null) => r(c)));
  return { out, code };
}

export const lifeCases: InstanceContractCase[] = [
  {
    name: 'capabilities have the documented shape and are stable',
    async run(c) {
      assert.equal(typeof c.d.name, 'string');
      assert.ok(c.d.name.length > 0);
      checkCaps(c.d.capabilities());
      assert.deepEqual(c.d.capabilities(), c.d.capabilities());
    },
  },
  {
    name: 'plan returns a storable driverConfig; prepare and start; status running with a pid',
    async run(c) {
      const cfg = await c.d.plan(c.planInput());
      assert.deepEqual(JSON.parse(JSON.stringify(cfg ?? null)), cfg ?? null, 'the driverConfig survives a JSON round trip (it is stored)');
      c.spec = await c.t.spec({ uuid: c.spec.uuid, name: c.spec.name, hostIds: c.spec.hostIds, driverConfig: cfg });
      await c.d.prepare(c.spec, c.t.prepareInput(c.spec));
      await c.d.start(c.spec);
      const s = await c.d.status(c.spec);
      assert.equal(s.state, 'running');
      assert.ok(typeof s.pid === 'number' && s.pid > 0, `a pid: ${s.pid}`);
      await c.t.ready?.(c.spec, c.d);
      await c.d.adopt(c.spec); // a restarted daemon re-adopts a live instance: harmless when already watched
      assert.equal((await c.d.status(c.spec)).pid, s.pid);
    },
  },
  {
    name: 'start of a running instance changes nothing',
    async run(c) {
      const before = await c.d.status(c.spec);
      await c.d.start(c.spec);
      const after = await c.d.status(c.spec);
      assert.equal(after.state, 'running');
      assert.equal(after.pid, before.pid);
    },
  },
  {
    name: 'pause and resume',
    async run(c) {
      await c.d.pause(c.spec);
      const paused = (await c.d.status(c.spec)).state;
      await c.d.resume(c.spec);
      assert.equal(paused, 'paused');
      assert.equal((await c.d.status(c.spec)).state, 'running');
    },
  },
  {
    name: 'console matches the capability; exec runs a command or is refused',
    async run(c) {
      const caps = c.d.capabilities();
      const con = await c.d.console(c.spec);
      assert.equal(con.kind, caps.console);
      if (con.kind === 'pty') con.child.kill('SIGKILL');
      assert.equal(typeof c.d.consoleLog(c.spec, 4096), 'string');
      if (caps.exec) {
        const r = await drain(await c.d.exec(c.spec, ['echo', 'contract-exec'], { tty: false }));
        assert.match(r.out, /contract-exec/);
        assert.equal(c.d.execExitCode(c.spec, r.code ?? -1, ''), 0);
      } else await rejectsWith(c.d.exec(c.spec, ['true'], { tty: false }), 'Conflict');
    },
  },
  {
    name: 'a NIC plugs and unplugs while running',
    async run(c) {
      const nic = await c.t.nic?.(c.spec);
      if (!nic) return;
      const hot = { ...nic, hotplug: true };
      await c.d.plugNic(c.spec, hot, true);
      if (c.t.sees?.nic) await until('the NIC inside', 30_000, () => c.t.sees!.nic!(c.spec, hot));
      await c.d.unplugNic({ ...c.spec, nics: [...c.spec.nics, hot] }, hot, true);
      if (c.t.sees?.nic) await until('the NIC gone', 30_000, async () => !(await c.t.sees!.nic!(c.spec, hot)));
      assert.equal((await c.d.status(c.spec)).state, 'running');
    },
  },
  {
    name: 'a volume plugs and unplugs while running',
    async run(c) {
      const vol = await c.t.volume?.(c.spec);
      if (!vol) return;
      const caps = c.d.capabilities();
      if (caps.volumeMountPath) assert.ok(vol.mountPath, 'the target gives filesystem volumes a mount path');
      await c.d.plugVolume(c.spec, vol, true);
      if (c.t.sees?.volume) await until('the volume inside', 30_000, () => c.t.sees!.volume!(c.spec, vol));
      await c.d.checkUnplugVolume(c.spec, vol);
      await c.d.unplugVolume(c.spec, vol, true);
      if (c.t.sees?.volume) await until('the volume gone', 30_000, async () => !(await c.t.sees!.volume!(c.spec, vol)));
      assert.equal((await c.d.status(c.spec)).state, 'running');
    },
  },
  {
    name: 'snapshots: stateless always, stateful only when capable',
    async run(c) {
      const caps = c.d.capabilities();
      const data = await c.d.snapshot(c.spec, { name: 'contract-s1', stateful: false }, c.t.vols);
      assert.equal(data.stateful, false);
      assert.ok(data.disks.length >= 1, 'it covers at least the root');
      assert.deepEqual(JSON.parse(JSON.stringify(data)), data, 'storable');
      if (caps.statefulSnapshots) {
        const st = await c.d.snapshot(c.spec, { name: 'contract-s2', stateful: true }, c.t.vols);
        assert.equal(st.stateful, true);
        await c.d.deleteSnapshot(c.spec, 'contract-s2', st, c.t.vols);
      } else await rejectsWith(c.d.snapshot(c.spec, { name: 'contract-s2', stateful: true }, c.t.vols), 'InvalidArgument');
      (c as InstanceContractCtx & { snap?: typeof data }).snap = data;
      assert.equal((await c.d.status(c.spec)).state, 'running');
    },
  },
  {
    name: 'stop: status stopped; restore and delete the snapshot while stopped; start again',
    async run(c) {
      await c.d.stop(c.spec, { timeoutMs: c.t.stopTimeoutMs ?? 30_000, force: false });
      const s = await statusBecomes(c, 'stopped', (c.t.stopTimeoutMs ?? 30_000) + 10_000);
      assert.equal(s.pid, null);
      await c.d.stop(c.spec, { timeoutMs: 1000, force: true }); // stopping a stopped instance is fine
      const snap = (c as InstanceContractCtx & { snap?: import('../instance-driver.js').SnapshotData }).snap;
      if (snap) {
        await c.d.restoreSnapshot(c.spec, 'contract-s1', snap, c.t.vols);
        await c.d.deleteSnapshot(c.spec, 'contract-s1', snap, c.t.vols);
      }
      await c.d.start(c.spec);
      assert.equal((await c.d.status(c.spec)).state, 'running');
      await c.t.ready?.(c.spec, c.d);
    },
  },
  {
    name: 'a kill from outside gives one exited event with requested false',
    async run(c) {
      const { pid } = await c.d.status(c.spec);
      const from = c.events.length;
      if (c.t.kill) await c.t.kill(c.spec, pid);
      else process.kill(pid!, 'SIGKILL');
      const ev = await until('an exited event', c.t.eventTimeoutMs ?? 10_000, () =>
        c.events.slice(from).find((e) => e.type === 'exited' && e.uuid === c.spec.uuid),
      );
      assert.equal(ev.type === 'exited' && ev.requested, false, 'a kill is not a requested exit');
      await statusBecomes(c, 'stopped', 10_000);
    },
  },
  {
    name: 'destroy leaves nothing behind; destroy twice is fine; release gives the ids back',
    async run(c) {
      await c.d.destroy(c.spec, c.spec.nics, { path: c.spec.root.path });
      assert.deepEqual(await c.t.leftovers(c.spec), []);
      assert.equal((await c.d.status(c.spec)).state, 'stopped');
      await c.d.destroy(c.spec, c.spec.nics, { path: c.spec.root.path });
      const released: number[] = [];
      await c.d.release(c.spec, {
        releaseId: async (k, id) => {
          released.push(id);
          await c.t.releaseId?.(k, id);
        },
      });
      assert.deepEqual(released.sort(), [...c.ids.values()].map((v) => v.id).sort(), 'every id plan() took is released');
    },
  },
];
