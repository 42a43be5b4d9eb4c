// One volume: resize, snapshot, clone, and its snapshots (restore, delete).
import { useState } from 'preact/hooks';
import type { Snapshot, Volume } from '../../../src/shared/storage-types.js';
import { api, listAll } from '../lib/api.js';
import { useLoad } from '../lib/hooks.js';
import { can } from '../lib/session.js';
import { ago, bytes } from '../lib/format.js';
import { Button, ErrorBox, Field, Table } from '../components/ui.js';
import { exactSize } from '../lib/res-values.js';
import { ConfirmButton, Form, OpStatus, enc, useOp, when } from './res-common.js';

/** The actions and snapshots of one volume. */
export function VolumeDetail(props: { pool: string; volume: Volume; reload: () => void }) {
  const v = props.volume;
  const base = `/storage/pools/${enc(props.pool)}/volumes/${enc(v.name)}`;
  const snaps = useLoad(() => (can('read', 'snapshot') ? listAll<Snapshot>(`${base}/snapshots`, 'snapshots') : Promise.resolve([])), [base]);
  const op = useOp();
  const [size, setSize] = useState(exactSize(v.size));
  const [snap, setSnap] = useState('');
  const [target, setTarget] = useState('');
  const [mode, setMode] = useState<'linked' | 'full'>('full');
  const [from, setFrom] = useState('');
  const write = can('write', 'volume');
  const writeSnap = can('write', 'snapshot');
  const after = () => {
    snaps.reload();
    props.reload();
  };
  return (
    <section class="card sub" aria-label={`Volume ${v.name}`}>
      <h3>Volume {v.name}</h3>
      <OpStatus op={op.op} error={op.error} />
      {write ? (
        <Form label="Resize the volume" onSubmit={() => void op.run(() => api.patch(base, { size: size.trim() }), after)}>
          <Field label="New size" hint="volumes only grow">
            {(id) => <input id={id} required value={size} onInput={(e) => setSize(e.currentTarget.value)} />}
          </Field>
          <Button type="submit" disabled={op.pending}>
            Resize
          </Button>
        </Form>
      ) : null}
      {writeSnap ? (
        <Form label="Snapshot the volume" onSubmit={() => void op.run(() => api.post(`${base}/snapshots`, { name: snap.trim() }), () => (setSnap(''), after()))}>
          <Field label="Snapshot name">{(id) => <input id={id} required value={snap} onInput={(e) => setSnap(e.currentTarget.value)} />}</Field>
          <Button type="submit" disabled={op.pending}>
            Take snapshot
          </Button>
        </Form>
      ) : null}
      {write ? (
        <Form
          label="Clone the volume"
          onSubmit={() => void op.run(() => api.post(`${base}/clone`, { target: target.trim(), mode, ...(from ? { fromSnapshot: from } : {}) }), () => (setTarget(''), after()))}
        >
          <Field label="Clone name">{(id) => <input id={id} required value={target} onInput={(e) => setTarget(e.currentTarget.value)} />}</Field>
          <Field label="Clone mode">
            {(id) => (
              <select id={id} value={mode} onChange={(e) => setMode(e.currentTarget.value as 'linked' | 'full')}>
                <option value="full">full</option>
                <option value="linked">linked</option>
              </select>
            )}
          </Field>
          <Field label="From snapshot">
            {(id) => (
              <select id={id} value={from} onChange={(e) => setFrom(e.currentTarget.value)}>
                <option value="">current state</option>
                {(snaps.data ?? []).map((s) => (
                  <option value={s.name}>{s.name}</option>
                ))}
              </select>
            )}
          </Field>
          <Button type="submit" disabled={op.pending}>
            Clone
          </Button>
        </Form>
      ) : null}
      <h4>Snapshots</h4>
      <ErrorBox error={snaps.error} />
      <Table<Snapshot>
        label={`Snapshots of ${v.name}`}
        rows={snaps.data ?? (snaps.error ? [] : undefined)}
        rowKey={(s) => s.name}
        empty="No snapshots."
        columns={[
          { title: 'Name', cell: (s) => s.name },
          { title: 'Taken', cell: (s) => ago(s.createdAt) },
          { title: 'RAM state', cell: (s) => (s.vmStateBytes ? bytes(s.vmStateBytes) : '—') },
          ...when<Snapshot>(writeSnap, {
            title: 'Actions',
            cell: (s) =>
              writeSnap ? (
                <span class="row-actions">
                  <ConfirmButton label="Restore" disabled={op.pending} onConfirm={() => void op.run(() => api.post(`${base}/snapshots/${enc(s.name)}/restore`), after)} />
                  <ConfirmButton disabled={op.pending} onConfirm={() => void op.run(() => api.del(`${base}/snapshots/${enc(s.name)}`), after)} />
                </span>
              ) : null,
          }),
        ]}
      />
      <Button onClick={snaps.reload}>Refresh snapshots</Button>
    </section>
  );
}
