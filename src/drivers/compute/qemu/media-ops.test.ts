import { test } from 'node:test';
import assert from 'node:assert/strict';
import { changeMedium, currentMedium, findCdrom, type MediaQmp } from './media-ops.js';
import type { BlockInfo } from './block-info.js';

/** A QMP that records commands and models one CD-ROM drive and the named nodes (enough to check the order). */
function fakeQmp(inserted: string | null, opts: { failInsert?: boolean; drive?: boolean } = {}) {
  const calls: [string, Record<string, unknown> | undefined][] = [];
  const nodes = new Set<string>(inserted ? ['f-cdrom', 'd-cdrom'] : []);
  let medium: string | null = inserted;
  const qmp: MediaQmp = {
    execute: (async (cmd: string, args?: Record<string, unknown>) => {
      calls.push([cmd, args]);
      switch (cmd) {
        case 'query-block': {
          const blocks: BlockInfo[] = [{ qdev: '/machine/peripheral/disk-root/virtio-backend', inserted: { file: '/root.qcow2' } }];
          if (opts.drive !== false) blocks.push({ qdev: 'cdrom0', ...(medium ? { inserted: { file: medium, 'node-name': 'd-cdrom' } } : {}) });
          return blocks;
        }
        case 'query-named-block-nodes': return [...nodes].map((n) => ({ 'node-name': n }));
        case 'blockdev-remove-medium': medium = null; return {};
        case 'blockdev-del': nodes.delete(String(args?.['node-name'])); return {};
        case 'blockdev-add': nodes.add(String(args?.['node-name'])); return {};
        case 'blockdev-insert-medium':
          if (opts.failInsert) throw new Error('insert failed');
          medium = 'inserted';
          return {};
        default: return {};
      }
    }) as MediaQmp['execute'],
  };
  return { qmp, calls, nodes, names: () => calls.map((c) => c[0]) };
}

test('findCdrom: by qdev id or QOM path ending in it', () => {
  assert.equal(findCdrom([{ qdev: 'x' }, { qdev: '/machine/peripheral/cdrom0' }])?.qdev, '/machine/peripheral/cdrom0');
  assert.equal(findCdrom([{ qdev: 'disk-cdrom0x' }]), undefined);
});

test('change: open the tray (forced), remove, delete the old nodes, add the new ones read-only, insert, close', async () => {
  const f = fakeQmp('/images/a/disk.iso');
  await changeMedium(f.qmp, '/images/b/disk.iso');
  assert.deepEqual(f.names(), ['query-block', 'blockdev-open-tray', 'blockdev-remove-medium', 'query-named-block-nodes', 'blockdev-del', 'blockdev-del', 'blockdev-add', 'blockdev-add', 'blockdev-insert-medium', 'blockdev-close-tray']);
  assert.deepEqual(f.calls[1]![1], { id: 'cdrom0', force: true });
  assert.deepEqual(f.calls[6]![1], { driver: 'file', 'node-name': 'f-cdrom', filename: '/images/b/disk.iso', 'read-only': true });
  assert.deepEqual(f.calls[8]![1], { id: 'cdrom0', 'node-name': 'd-cdrom' });
  assert.deepEqual([...f.nodes].sort(), ['d-cdrom', 'f-cdrom']);
});

test('eject: the drive ends empty and closed, the nodes gone; an empty drive is ejected without a remove', async () => {
  const f = fakeQmp('/images/a/disk.iso');
  await changeMedium(f.qmp, null);
  assert.equal(f.nodes.size, 0);
  assert.equal(f.names().at(-1), 'blockdev-close-tray');
  assert.equal(await currentMedium(f.qmp), null);
  const e = fakeQmp(null);
  await changeMedium(e.qmp, null);
  assert.ok(!e.names().includes('blockdev-remove-medium'));
});

test('a failed insert leaves no node behind; a VM without a drive and a relative path are refused', async () => {
  const f = fakeQmp(null, { failInsert: true });
  await assert.rejects(changeMedium(f.qmp, '/images/b/disk.iso'), /insert failed/);
  assert.equal(f.nodes.size, 0);
  await assert.rejects(changeMedium(fakeQmp(null, { drive: false }).qmp, '/x.iso'), /CD-ROM drive/);
  const r = fakeQmp(null);
  await assert.rejects(changeMedium(r.qmp, 'x.iso'), /absolute/);
  assert.deepEqual(r.calls, []);
});
