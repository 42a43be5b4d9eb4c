// The Volumes tab: the volumes attached to this instance (detach) and the free ones of the project (attach).
import { useState } from 'preact/hooks';
import type { Instance } from '../../../src/shared/api-types.js';
import type { Pool, Volume } from '../../../src/shared/storage-types.js';
import { api, listAll } from '../lib/api.js';
import { bytes } from '../lib/format.js';
import { useLoad } from '../lib/hooks.js';
import { can } from '../lib/session.js';
import { Button, ErrorBox, Field, Section, Table } from './ui.js';
import { OpStatus, useOp } from './instance-op.js';

/** Every volume of the project: pools are platform resources, so a tenant looks in the default pool only. */
async function allVolumes(): Promise<Volume[]> {
  const pools = can('read', 'pool') ? (await listAll<Pool>('/storage/pools', 'pools')).map((p) => p.name) : ['default'];
  const lists = await Promise.all(pools.map((p) => listAll<Volume>(`/storage/pools/${encodeURIComponent(p)}/volumes`, 'volumes')));
  return lists.flat();
}

/** Volumes of `inst`. */
export function VolumesTab(props: { inst: Instance }) {
  const i = props.inst;
  const vols = useLoad(allVolumes, [i.name]);
  const write = can('write', 'instance');
  const op = useOp();
  const [pick, setPick] = useState('');
  const [path, setPath] = useState('');
  const base = `/instances/${encodeURIComponent(i.name)}/volumes`;
  const mine = vols.data?.filter((v) => v.attachedTo === i.name);
  const free = (vols.data ?? []).filter((v) => !v.attachedTo);
  const chosen = pick || (free[0] ? `${free[0].pool}/${free[0].name}` : '');
  const attach = (e: Event) => {
    e.preventDefault();
    const [pool, volume] = chosen.split('/');
    void op.run(() => api.post(base, { pool, volume, ...(path.trim() ? { path: path.trim() } : {}) }), vols.reload);
  };
  return (
    <Section title="Volumes">
      <ErrorBox error={vols.error} />
      <Table
        label="Attached volumes"
        rows={mine}
        rowKey={(v) => `${v.pool}/${v.name}`}
        empty="No volumes attached."
        columns={[
          { title: 'Volume', cell: (v) => (isRoot(v, i) ? `${v.name} (root)` : v.name) },
          { title: 'Pool', cell: (v) => v.pool },
          { title: 'Kind', cell: (v) => v.kind },
          { title: 'Size', cell: (v) => (v.size ? bytes(v.size) : 'no limit'), class: 'num' },
          { title: 'Used', cell: (v) => bytes(v.allocated), class: 'num' },
          ...(write
            ? [
                {
                  title: 'Actions',
                  cell: (v: Volume) =>
                    isRoot(v, i) ? null : (
                    <Button disabled={op.pending} onClick={() => void op.run(() => api.del(`${base}/${encodeURIComponent(v.pool)}/${encodeURIComponent(v.name)}`), vols.reload)}>
                      Detach {v.name}
                    </Button>
                    ),
                },
              ]
            : []),
        ]}
      />
      {write && vols.data ? (
        free.length ? (
          <form class="inline" onSubmit={attach}>
            <Field label="Free volume">
              {(id) => (
                <select id={id} value={chosen} onChange={(e) => setPick(e.currentTarget.value)}>
                  {free.map((v) => (
                    <option value={`${v.pool}/${v.name}`}>
                      {v.pool}/{v.name} ({v.kind}, {bytes(v.size)})
                    </option>
                  ))}
                </select>
              )}
            </Field>
            {i.type === 'container' ? (
              <Field label="Mount path" hint="where a filesystem volume appears, e.g. /data">
                {(id) => <input id={id} value={path} onInput={(e) => setPath(e.currentTarget.value)} />}
              </Field>
            ) : null}
            <Button kind="primary" type="submit" disabled={op.pending || !chosen}>
              Attach
            </Button>
          </form>
        ) : (
          <p class="muted">No free volume to attach{can('write', 'volume') ? ': create one on the Storage page.' : '.'}</p>
        )
      ) : null}
      <OpStatus op={op} label="Volume" />
    </Section>
  );
}

/** The root volume (named after the instance's id) is part of the instance: it is not detached here. */
function isRoot(v: Volume, i: Instance): boolean {
  return v.name === `root-${i.id}`;
}
