// One network's DHCP leases and port forwards (list, add, delete).
import { useState } from 'preact/hooks';
import type { Forward, Lease, Network } from '../../../src/shared/network-types.js';
import { api, listAll } from '../lib/api.js';
import { useAction, useLoad } from '../lib/hooks.js';
import { can } from '../lib/session.js';
import { Button, ErrorBox, Field, Section, Table } from '../components/ui.js';
import { forwardBody } from '../lib/res-values.js';
import { ConfirmButton, Form, enc, when } from './res-common.js';

/** Leases and forwards of `network`. */
export function NetworkDetail(props: { network: Network }) {
  const base = `/networks/${enc(props.network.name)}`;
  const leases = useLoad(() => listAll<Lease>(`${base}/leases`, 'leases'), [base]);
  const seeFwd = can('read', 'forward');
  const fwds = useLoad(() => (seeFwd ? listAll<Forward>(`${base}/forwards`, 'forwards') : Promise.resolve([])), [base]);
  const act = useAction();
  return (
    <Section title={`Network ${props.network.name}`} actions={<Button onClick={() => (leases.reload(), fwds.reload())}>Refresh</Button>}>
      <h3>DHCP leases</h3>
      <ErrorBox error={leases.error} />
      <Table<Lease>
        label={`Leases of ${props.network.name}`}
        rows={leases.data ?? (leases.error ? [] : undefined)}
        rowKey={(l) => `${l.ip}-${l.mac}`}
        empty="No addresses allocated."
        columns={[
          { title: 'Address', cell: (l) => `${l.ip}${l.ipv6 ? `, ${l.ipv6}` : ''}` },
          { title: 'MAC', cell: (l) => <code>{l.mac}</code> },
          { title: 'Instance', cell: (l) => `${l.instance} ${l.nic}` },
          { title: 'Host name', cell: (l) => l.hostname || '—' },
        ]}
      />
      {seeFwd ? (
        <>
          <h3>Port forwards</h3>
          <ErrorBox error={fwds.error ?? act.error} />
          <Table<Forward>
            label={`Port forwards of ${props.network.name}`}
            rows={fwds.data ?? (fwds.error ? [] : undefined)}
            rowKey={(f) => f.id}
            empty="No port forwards."
            columns={[
              { title: 'Listen', cell: (f) => (f.kind === 'floating' ? `${f.listenAddress} (floating IP)` : `${f.listenAddress}:${f.listenPort}${f.listenPortEnd ? `-${f.listenPortEnd}` : ''}/${f.protocol}`) },
              { title: 'Target', cell: (f) => `${f.instance} ${f.nic} ${f.targetAddress}${f.targetPort ? `:${f.targetPort}` : ''}` },
              { title: 'Description', cell: (f) => f.description || '—' },
              ...when<Forward>(can('write', 'forward'), {
                title: 'Actions',
                cell: (f) => (can('write', 'forward') ? <ConfirmButton disabled={act.pending} onConfirm={() => void act.run(() => api.del(`${base}/forwards/${enc(f.id)}`)).then(fwds.reload)} /> : null),
              }),
            ]}
          />
          {can('write', 'forward') ? <ForwardAdd base={base} reload={fwds.reload} /> : null}
        </>
      ) : null}
    </Section>
  );
}

function ForwardAdd(props: { base: string; reload: () => void }) {
  const [f, setF] = useState({ listenAddress: '', protocol: 'tcp', listenPort: '', listenPortEnd: '', instance: '', nic: '', targetPort: '', description: '' });
  const act = useAction();
  const set = (k: keyof typeof f) => (e: { currentTarget: { value: string } }) => setF({ ...f, [k]: e.currentTarget.value });
  const submit = () =>
    act.run(() => api.post(`${props.base}/forwards`, forwardBody(f))).then((ok) => {
      if (ok) setF({ ...f, listenPort: '', listenPortEnd: '', targetPort: '', description: '' });
      props.reload();
    });
  return (
    <>
      <h4>Add a port forward</h4>
      <Form label="Add a port forward" onSubmit={() => void submit()}>
        <Field label="Listen address">{(id) => <input id={id} required value={f.listenAddress} placeholder="203.0.113.5" onInput={set('listenAddress')} />}</Field>
        <Field label="Protocol">
          {(id) => (
            <select id={id} value={f.protocol} onChange={set('protocol')}>
              <option value="tcp">tcp</option>
              <option value="udp">udp</option>
            </select>
          )}
        </Field>
        <Field label="Listen port" hint="empty: a floating IP">
          {(id) => <input id={id} type="number" min={1} max={65535} value={f.listenPort} onInput={set('listenPort')} />}
        </Field>
        <Field label="Last port" hint="for a range">
          {(id) => <input id={id} type="number" min={1} max={65535} value={f.listenPortEnd} onInput={set('listenPortEnd')} />}
        </Field>
        <Field label="Instance">{(id) => <input id={id} required value={f.instance} onInput={set('instance')} />}</Field>
        <Field label="NIC" hint="default eth0">
          {(id) => <input id={id} value={f.nic} placeholder="eth0" size={6} onInput={set('nic')} />}
        </Field>
        <Field label="Target port">{(id) => <input id={id} type="number" min={1} max={65535} value={f.targetPort} onInput={set('targetPort')} />}</Field>
        <Field label="Forward description">{(id) => <input id={id} value={f.description} onInput={set('description')} />}</Field>
        <Button kind="primary" type="submit" disabled={act.pending}>
          Add forward
        </Button>
      </Form>
      <ErrorBox error={act.error} />
    </>
  );
}
