// Test fixture for volume claims: `count` stopped VMs (vm0..) and one block volume `default/data`, made through
// the real instance core of coreFixture (real SqliteStore in a temp dir; only the host side is faked).
import { coreFixture } from './core-fixture.js';

/** `count` stopped VMs (vm0..) and one block volume `default/data`, wired like the daemon does. */
export async function attachFixture(count: number, opts: { failPatchFor?: string } = {}) {
  const t = await coreFixture();
  await t.pool.createVolume({ name: 'data', kind: 'block', sizeBytes: 1 << 20 });
  const deleted: string[] = [];
  const del = t.pool.deleteVolume.bind(t.pool);
  t.pool.deleteVolume = async (n: string) => {
    deleted.push(n);
    return del(n);
  };
  const names = Array.from({ length: count }, (_, i) => `vm${i}`);
  for (const name of names) await t.repo.patch('default', (await t.launch({ name, image: 'tiny', start: false })).name, { volumes: [] });
  const svc = t.repo;
  if (opts.failPatchFor) {
    // The attach operation's last step (the record write) fails for one instance: its claim must be given back.
    const patch = svc.patch.bind(svc);
    svc.patch = async (project, name, change) => (name === opts.failPatchFor ? Promise.reject(new Error('record write failed')) : patch(project, name, change));
  }
  return { dir: t.dir, store: t.store, ops: t.ops, svc, storage: t.storage, volumes: t.volumes, names, deleted, done: t.done };
}
