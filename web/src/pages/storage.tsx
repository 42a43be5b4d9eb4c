// Storage: the pools with their capacity (platform roles see and manage them) and the project's volumes in a pool.
import { useState } from 'preact/hooks';
import type { Pool } from '../../../src/shared/storage-types.js';
import { api, listAll } from '../lib/api.js';
import { useLoad } from '../lib/hooks.js';
import { can, project } from '../lib/session.js';
import { bytes } from '../lib/format.js';
import { Button, ErrorBox, Field, Page, Progress, Section, Table } from '../components/ui.js';
import { ConfirmButton, Form, OpStatus, enc, useOp, when } from './res-common.js';
import { Volumes } from './res-volumes.js';

/** Storage pools and volumes. */
export function StoragePage(_props: { params: Record<string, string> }) {
  const seePools = can('read', 'pool');
  const pools = useLoad(() => (seePools ? listAll<Pool>('/storage/pools', 'pools') : Promise.resolve(undefined)), [seePools]);
  const [pool, setPool] = useState('default');
  const names = pools.data?.map((p) => p.name);
  const chosen = names && names.length && !names.includes(pool) ? names[0]! : pool;
  return (
    <Page title="Storage">
      {seePools ? <Pools pools={pools.data} error={pools.error} reload={pools.reload} /> : null}
      <Section
        title={`Volumes in pool ${chosen}`}
        actions={
          <Field label="Pool">
            {(id) =>
              names ? (
                <select id={id} value={chosen} onChange={(e) => setPool(e.currentTarget.value)}>
                  {names.map((n) => (
                    <option value={n}>{n}</option>
                  ))}
                </select>
              ) : (
                <input id={id} value={pool} size={12} onChange={(e) => setPool(e.currentTarget.value.trim() || 'default')} />
              )
            }
          </Field>
        }
      >
        {!can('read', 'volume') ? (
          <p class="muted">Your role does not list the volumes of project {project.value}.</p>
        ) : !seePools || names ? (
          <Volumes key={chosen} pool={chosen} />
        ) : null}
      </Section>
    </Page>
  );
}

function Pools(props: { pools?: Pool[]; error?: string; reload: () => void }) {
  const op = useOp();
  const write = can('write', 'pool');
  return (
    <Section title="Pools" actions={<Button onClick={props.reload}>Refresh</Button>}>
      <ErrorBox error={props.error} />
      <OpStatus op={op.op} error={op.error} />
      <Table<Pool>
        label="Pools"
        rows={props.pools ?? (props.error ? [] : undefined)}
        rowKey={(p) => p.name}
        empty="No pools."
        columns={[
          { title: 'Name', cell: (p) => p.name },
          { title: 'Driver', cell: (p) => `${p.driver} (${p.format})` },
          { title: 'Path', cell: (p) => <code>{p.path}</code> },
          {
            title: 'Used',
            cell: (p) => (
              <div class="usage">
                <Progress value={p.size ? Math.round((p.used / p.size) * 100) : 0} label={`pool ${p.name} used`} />
                <small>
                  {bytes(p.used)} of {bytes(p.size)} ({bytes(p.available)} free)
                </small>
              </div>
            ),
          },
          { title: 'Provisioned', cell: (p) => `${bytes(p.provisioned)} (×${p.overProvisioning.toFixed(2)})` },
          { title: 'Volumes', cell: (p) => p.volumes, class: 'num' },
          ...when<Pool>(write, { title: 'Actions', cell: (p) => (write ? <ConfirmButton disabled={op.pending} onConfirm={() => void op.run(() => api.del(`/storage/pools/${enc(p.name)}`), props.reload)} /> : null) }),
        ]}
      />
      {write ? <PoolCreate reload={props.reload} /> : null}
    </Section>
  );
}

function PoolCreate(props: { reload: () => void }) {
  const [name, setName] = useState('');
  const [driver, setDriver] = useState<'dir' | 'btrfs'>('dir');
  const [path, setPath] = useState('');
  const [format, setFormat] = useState<'qcow2' | 'raw'>('qcow2');
  const op = useOp();
  const submit = () => op.run(() => api.post('/storage/pools', { name: name.trim(), driver, format, ...(path.trim() ? { path: path.trim() } : {}) }), () => {
    setName('');
    props.reload();
  });
  return (
    <>
      <h3>Create a pool</h3>
      <Form label="Create a pool" onSubmit={() => void submit()}>
        <Field label="Pool name">{(id) => <input id={id} required value={name} onInput={(e) => setName(e.currentTarget.value)} />}</Field>
        <Field label="Driver">
          {(id) => (
            <select id={id} value={driver} onChange={(e) => setDriver(e.currentTarget.value as 'dir' | 'btrfs')}>
              <option value="dir">dir</option>
              <option value="btrfs">btrfs</option>
            </select>
          )}
        </Field>
        <Field label="Format">
          {(id) => (
            <select id={id} value={format} onChange={(e) => setFormat(e.currentTarget.value as 'qcow2' | 'raw')}>
              <option value="qcow2">qcow2</option>
              <option value="raw">raw</option>
            </select>
          )}
        </Field>
        <Field label="Directory" hint="absolute; empty: the daemon's default">
          {(id) => <input id={id} value={path} onInput={(e) => setPath(e.currentTarget.value)} />}
        </Field>
        <Button kind="primary" type="submit" disabled={op.pending}>
          Create pool
        </Button>
      </Form>
      <OpStatus op={op.op} error={op.error} label="create pool" />
    </>
  );
}
