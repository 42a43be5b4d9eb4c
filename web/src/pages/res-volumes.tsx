// The project's volumes in one pool: create, and per volume resize, snapshot, clone, delete and its snapshots.
import { useState } from 'preact/hooks';
import type { Volume } from '../../../src/shared/storage-types.js';
import { api, listAll } from '../lib/api.js';
import { useLoad } from '../lib/hooks.js';
import { can } from '../lib/session.js';
import { bytes } from '../lib/format.js';
import { Button, ErrorBox, Field, Table } from '../components/ui.js';
import { ConfirmButton, Form, OpStatus, enc, useOp } from './res-common.js';
import { VolumeDetail } from './res-volume-detail.js';

/** The volumes of `pool` in the panel's project. */
export function Volumes(props: { pool: string }) {
  const base = `/storage/pools/${enc(props.pool)}/volumes`;
  const list = useLoad(() => listAll<Volume>(base, 'volumes'), [base]);
  const [open, setOpen] = useState<string>();
  const op = useOp();
  const write = can('write', 'volume');
  const sel = list.data?.find((v) => v.name === open);
  return (
    <>
      <ErrorBox error={list.error} />
      <OpStatus op={op.op} error={op.error} />
      <Table<Volume>
        label="Volumes"
        rows={list.data ?? (list.error ? [] : undefined)}
        rowKey={(v) => v.name}
        empty="No volumes in this pool."
        columns={[
          { title: 'Name', cell: (v) => v.name },
          { title: 'Kind', cell: (v) => `${v.kind}${v.format ? ` (${v.format})` : ''}` },
          { title: 'Size', cell: (v) => bytes(v.size), class: 'num' },
          { title: 'Allocated', cell: (v) => bytes(v.allocated), class: 'num' },
          { title: 'Snapshots', cell: (v) => v.snapshots, class: 'num' },
          { title: 'Attached to', cell: (v) => v.attachedTo || '—' },
          {
            title: 'Actions',
            cell: (v) => (
              <span class="row-actions">
                <Button onClick={() => setOpen(open === v.name ? undefined : v.name)} aria-expanded={open === v.name}>
                  {open === v.name ? 'Close' : 'Manage'}
                </Button>
                {write ? <ConfirmButton disabled={op.pending} onConfirm={() => void op.run(() => api.del(`${base}/${enc(v.name)}`), list.reload)} /> : null}
              </span>
            ),
          },
        ]}
      />
      {sel ? <VolumeDetail key={sel.name} pool={props.pool} volume={sel} reload={list.reload} /> : null}
      {write ? <VolumeCreate base={base} reload={list.reload} /> : null}
    </>
  );
}

function VolumeCreate(props: { base: string; reload: () => void }) {
  const [name, setName] = useState('');
  const [size, setSize] = useState('1GiB');
  const [kind, setKind] = useState<'block' | 'filesystem'>('block');
  const op = useOp();
  const submit = () => op.run(() => api.post(props.base, { name: name.trim(), size: size.trim(), kind }), () => {
    setName('');
    props.reload();
  });
  return (
    <>
      <h3>Create a volume</h3>
      <Form label="Create a volume" onSubmit={() => void submit()}>
        <Field label="Volume name">{(id) => <input id={id} required value={name} onInput={(e) => setName(e.currentTarget.value)} />}</Field>
        <Field label="Size" hint="e.g. 10GiB">
          {(id) => <input id={id} required value={size} onInput={(e) => setSize(e.currentTarget.value)} />}
        </Field>
        <Field label="Kind">
          {(id) => (
            <select id={id} value={kind} onChange={(e) => setKind(e.currentTarget.value as 'block' | 'filesystem')}>
              <option value="block">block</option>
              <option value="filesystem">filesystem</option>
            </select>
          )}
        </Field>
        <Button kind="primary" type="submit" disabled={op.pending}>
          Create volume
        </Button>
      </Form>
      <OpStatus op={op.op} error={op.error} label="create volume" />
    </>
  );
}
