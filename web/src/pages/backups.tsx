// Backups: the stores (platform roles manage them), the project's backups (restore, verify, delete) and its jobs.
import { useState } from 'preact/hooks';
import type { BackupStore } from '../../../src/shared/backup-types.js';
import { api, listAll } from '../lib/api.js';
import { useLoad } from '../lib/hooks.js';
import { can } from '../lib/session.js';
import { ago, bytes } from '../lib/format.js';
import { Button, ErrorBox, Field, Page, Section, Table } from '../components/ui.js';
import { ConfirmButton, Form, OpResult, OpStatus, enc, useOp, when } from './res-common.js';
import { BackupList } from './res-backup-list.js';
import { BackupJobs } from './res-backup-jobs.js';

/** Backup stores, backups and backup jobs. */
export function BackupsPage(_props: { params: Record<string, string> }) {
  const stores = useLoad(() => listAll<BackupStore>('/backup-stores', 'stores'));
  const names = stores.data?.map((s) => s.name) ?? [];
  return (
    <Page title="Backups">
      <Stores stores={stores.data} error={stores.error} reload={stores.reload} />
      {/* An operator manages the stores; the backups and jobs are the project's. */}
      {can('read', 'backup') ? (
        <>
          <BackupList stores={names} />
          <BackupJobs stores={names} />
        </>
      ) : null}
    </Page>
  );
}

function Stores(props: { stores?: BackupStore[]; error?: string; reload: () => void }) {
  const op = useOp();
  const admin = can('write', 'backup-store');
  const verifyMine = can('write', 'backup');
  return (
    <Section title="Backup stores" actions={<Button onClick={props.reload}>Refresh</Button>}>
      <ErrorBox error={props.error} />
      <OpStatus op={op.op} error={op.error} />
      <OpResult op={op.last} />
      <Table<BackupStore>
        label="Backup stores"
        rows={props.stores ?? (props.error ? [] : undefined)}
        rowKey={(s) => s.name}
        empty={admin ? 'No backup stores yet.' : 'No backup stores: an administrator creates one.'}
        columns={[
          { title: 'Name', cell: (s) => s.name },
          ...(admin ? [{ title: 'Path', cell: (s: BackupStore) => <code>{s.path ?? ''}</code> }] : []),
          { title: 'Encrypted', cell: (s) => (s.encrypted ? `yes (${(s.keyFingerprint ?? '').slice(0, 23)}…)` : 'no') },
          { title: 'Used', cell: (s) => (s.usage ? `${bytes(s.usage.bytes)} in ${s.usage.chunks} chunks, ${bytes(s.usage.available)} free` : '—') },
          { title: 'Created', cell: (s) => ago(s.createdAt) },
          ...when<BackupStore>(admin || verifyMine, {
            title: 'Actions',
            cell: (s) => (
              <span class="row-actions">
                {verifyMine && !admin ? (
                  <Button disabled={op.pending} onClick={() => void op.run(() => api.post('/backups/verify', { store: s.name }), props.reload)}>
                    Verify my backups
                  </Button>
                ) : null}
                {admin ? (
                  <>
                    <Button disabled={op.pending} onClick={() => void op.run(() => api.post(`/backup-stores/${enc(s.name)}/verify`), props.reload)}>
                      Verify
                    </Button>
                    <Button disabled={op.pending} onClick={() => void op.run(() => api.post(`/backup-stores/${enc(s.name)}/gc`), props.reload)}>
                      Garbage collect
                    </Button>
                    <ConfirmButton label="Forget" confirm="Confirm forget" disabled={op.pending} onConfirm={() => void op.run(() => api.del(`/backup-stores/${enc(s.name)}`), props.reload)} />
                  </>
                ) : null}
              </span>
            ),
          }),
        ]}
      />
      {admin ? <StoreCreate reload={props.reload} /> : null}
    </Section>
  );
}


function StoreCreate(props: { reload: () => void }) {
  const [name, setName] = useState('');
  const [path, setPath] = useState('');
  const [encrypt, setEncrypt] = useState(false);
  const [pass, setPass] = useState('');
  const op = useOp();
  const submit = () =>
    op
      .run(() => api.post('/backup-stores', { name: name.trim(), path: path.trim(), ...(encrypt ? { encrypt: true, passphrase: pass } : {}) }), props.reload)
      .then((ok) => {
        setPass('');
        if (ok) (setName(''), setPath(''), setEncrypt(false));
      });
  return (
    <>
      <h3>Create a backup store</h3>
      <Form label="Create a backup store" onSubmit={() => void submit()}>
        <Field label="Store name">{(id) => <input id={id} required value={name} onInput={(e) => setName(e.currentTarget.value)} />}</Field>
        <Field label="Directory" hint="empty, or an existing store to attach">
          {(id) => <input id={id} required value={path} placeholder="/srv/backups" onInput={(e) => setPath(e.currentTarget.value)} />}
        </Field>
        <Field label="Encrypt">{(id) => <input id={id} type="checkbox" checked={encrypt} onChange={(e) => setEncrypt(e.currentTarget.checked)} />}</Field>
        {encrypt ? <Field label="Passphrase">{(id) => <input id={id} type="password" required autoComplete="new-password" value={pass} onInput={(e) => setPass(e.currentTarget.value)} />}</Field> : null}
        <Button kind="primary" type="submit" disabled={op.pending}>
          Create store
        </Button>
      </Form>
      <OpStatus op={op.op} error={op.error} />
    </>
  );
}
