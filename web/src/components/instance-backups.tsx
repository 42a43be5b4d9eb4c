// The Backups tab: this instance's backups, a new backup into a store, and a restore (over it, or as a new one).
import { useState } from 'preact/hooks';
import type { Instance } from '../../../src/shared/api-types.js';
import type { Backup, BackupStore } from '../../../src/shared/backup-types.js';
import { api, listAll } from '../lib/api.js';
import { ago, bytes } from '../lib/format.js';
import { useLoad } from '../lib/hooks.js';
import { can } from '../lib/session.js';
import { Button, ErrorBox, Field, Section, Table } from './ui.js';
import { OpStatus, useOp } from './instance-op.js';

/** Backups of `inst`. */
export function BackupsTab(props: { inst: Instance; reload: () => void }) {
  const i = props.inst;
  const backups = useLoad(() => listAll<Backup>('/backups', 'backups', { instance: i.name }), [i.name]);
  const write = can('write', 'backup');
  const stores = useLoad(() => (write && can('read', 'backup-store') ? listAll<BackupStore>('/backup-stores', 'stores') : Promise.resolve([])), [write]);
  const [store, setStore] = useState('');
  const [full, setFull] = useState(false);
  const [restoreAs, setRestoreAs] = useState('');
  const op = useOp();
  const chosen = store || stores.data?.[0]?.name || '';
  const done = () => {
    backups.reload();
    props.reload();
  };
  const create = (e: Event) => {
    e.preventDefault();
    void op.run(() => api.post(`/instances/${encodeURIComponent(i.name)}/backups`, { store: chosen, ...(full ? { full } : {}) }), done);
  };
  const restore = (b: Backup) => {
    const body = restoreAs.trim() ? { name: restoreAs.trim() } : { force: true };
    void op.run(() => api.post(`/backups/${encodeURIComponent(b.id)}/restore`, body, { store: b.store }), done);
  };
  return (
    <Section title="Backups">
      {write && stores.data ? (
        stores.data.length ? (
          <form class="inline" onSubmit={create}>
            <Field label="Backup store">
              {(id) => (
                <select id={id} value={chosen} onChange={(e) => setStore(e.currentTarget.value)}>
                  {stores.data!.map((s) => (
                    <option value={s.name}>
                      {s.name}
                      {s.encrypted ? ' (encrypted)' : ''}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <label class="check">
              <input type="checkbox" checked={full} onChange={(e) => setFull(e.currentTarget.checked)} /> Full (read everything)
            </label>
            <Button kind="primary" type="submit" disabled={op.pending || !chosen}>
              Back up now
            </Button>
          </form>
        ) : (
          <p class="muted">There is no backup store yet{can('write', 'backup-store') ? ': create one on the Backups page.' : '.'}</p>
        )
      ) : null}
      {write && backups.data?.length ? (
        <div class="inline">
          <Field label="Restore as" hint="empty: over this instance (it is stopped first); a name: as a new instance">
            {(id) => <input id={id} value={restoreAs} onInput={(e) => setRestoreAs(e.currentTarget.value)} />}
          </Field>
        </div>
      ) : null}
      <OpStatus op={op} label="Backup" />
      <ErrorBox error={backups.error ?? stores.error} />
      <Table
        label="Backups"
        rows={backups.data}
        rowKey={(b) => `${b.store}/${b.id}`}
        empty="No backups of this instance."
        columns={[
          { title: 'Time', cell: (b) => <time dateTime={b.time} title={b.time}>{ago(b.time)}</time> },
          { title: 'Store', cell: (b) => b.store },
          { title: 'Mode', cell: (b) => `${b.mode}, ${b.consistency}` },
          { title: 'New data', cell: (b) => bytes(b.stats.bytesNew), class: 'num' },
          { title: 'Verified', cell: (b) => (b.verified ? (b.verified.ok ? `ok, ${ago(b.verified.time)}` : 'FAILED') : '—') },
          ...(write
            ? [
                {
                  title: 'Actions',
                  cell: (b: Backup) => (
                    <Button disabled={op.pending} onClick={() => restore(b)} aria-label={`Restore backup ${b.id}`}>
                      Restore
                    </Button>
                  ),
                },
              ]
            : []),
        ]}
      />
    </Section>
  );
}
