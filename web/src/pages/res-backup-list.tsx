// The project's backups: filter by store and instance, restore as a new instance, delete.
import { useState } from 'preact/hooks';
import type { Backup } from '../../../src/shared/backup-types.js';
import { api, listAll } from '../lib/api.js';
import { useLoad } from '../lib/hooks.js';
import { can } from '../lib/session.js';
import { ago, bytes } from '../lib/format.js';
import { Button, ErrorBox, Field, Section, Table } from '../components/ui.js';
import { ConfirmButton, Form, OpStatus, enc, useOp, when } from './res-common.js';

/** The project's backups in every store. */
export function BackupList(props: { stores: string[] }) {
  const [store, setStore] = useState('');
  const [instance, setInstance] = useState('');
  const q = { store: store || undefined, instance: instance.trim() || undefined };
  const list = useLoad(() => listAll<Backup>('/backups', 'backups', q, 500), [q.store, q.instance]);
  const [restoring, setRestoring] = useState<Backup>();
  const op = useOp();
  const write = can('write', 'backup');
  return (
    <Section title="Backups" actions={<Button onClick={list.reload}>Refresh</Button>}>
      <div class="inline">
        <Field label="Store">
          {(id) => (
            <select id={id} value={store} onChange={(e) => setStore(e.currentTarget.value)}>
              <option value="">all stores</option>
              {props.stores.map((s) => (
                <option value={s}>{s}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Instance">{(id) => <input id={id} value={instance} placeholder="all" onChange={(e) => setInstance(e.currentTarget.value)} />}</Field>
      </div>
      <ErrorBox error={list.error} />
      <OpStatus op={op.op} error={op.error} />
      <Table<Backup>
        label="Backups"
        rows={list.data ?? (list.error ? [] : undefined)}
        rowKey={(b) => `${b.store}/${b.id}`}
        empty="No backups."
        columns={[
          { title: 'Time', cell: (b) => <span title={b.time}>{ago(b.time)}</span> },
          { title: 'Instance', cell: (b) => `${b.instance.name} (${b.instance.type})` },
          { title: 'Store', cell: (b) => b.store },
          { title: 'Mode', cell: (b) => `${b.mode}, ${b.source}` },
          { title: 'Size', cell: (b) => bytes(b.archives.reduce((n, a) => n + a.size, 0)), class: 'num' },
          { title: 'New data', cell: (b) => bytes(b.stats.bytesNew), class: 'num' },
          { title: 'Verified', cell: (b) => (b.verified ? `${b.verified.ok ? 'ok' : 'BAD'} ${ago(b.verified.time)}` : '—') },
          ...when<Backup>(write, {
            title: 'Actions',
            cell: (b) =>
              write ? (
                <span class="row-actions">
                  <Button onClick={() => setRestoring(b)}>Restore</Button>
                  <ConfirmButton disabled={op.pending} onConfirm={() => void op.run(() => api.del(`/backups/${enc(b.id)}`, { store: b.store }), list.reload)} />
                </span>
              ) : null,
          }),
        ]}
      />
      {restoring ? <Restore key={restoring.id} backup={restoring} close={() => setRestoring(undefined)} /> : null}
    </Section>
  );
}

function Restore(props: { backup: Backup; close: () => void }) {
  const b = props.backup;
  const [name, setName] = useState(`${b.instance.name}-restored`.slice(0, 63));
  const [pool, setPool] = useState('');
  const [start, setStart] = useState(false);
  const op = useOp();
  const [done, setDone] = useState<string>();
  const submit = () =>
    op.run(() => api.post(`/backups/${enc(b.id)}/restore`, { name: name.trim(), start, ...(pool.trim() ? { pool: pool.trim() } : {}) }, { store: b.store })).then((ok) => ok && setDone(`restored as instance ${name.trim()}`));
  return (
    <section class="card sub" aria-label="Restore a backup">
      <h3>
        Restore {b.instance.name} from {b.time}
      </h3>
      <Form label="Restore as a new instance" onSubmit={() => void submit()}>
        <Field label="New instance name">{(id) => <input id={id} required value={name} onInput={(e) => setName(e.currentTarget.value)} />}</Field>
        <Field label="Storage pool" hint="empty: the default">
          {(id) => <input id={id} value={pool} onInput={(e) => setPool(e.currentTarget.value)} />}
        </Field>
        <Field label="Start it">{(id) => <input id={id} type="checkbox" checked={start} onChange={(e) => setStart(e.currentTarget.checked)} />}</Field>
        <Button kind="primary" type="submit" disabled={op.pending}>
          Restore
        </Button>
        <Button onClick={props.close}>Close</Button>
      </Form>
      <OpStatus op={op.op} error={op.error} label="restore" />
      {done ? (
        <p role="status">
          {done}: <a href={`#/instances/${enc(name.trim())}`}>open it</a>
        </p>
      ) : null}
    </section>
  );
}
