// Networks of the project: list, create, delete; per network its DHCP leases and port forwards.
import { useState } from 'preact/hooks';
import type { Network } from '../../../src/shared/network-types.js';
import { api, listAll } from '../lib/api.js';
import { useLoad } from '../lib/hooks.js';
import { can } from '../lib/session.js';
import { ago } from '../lib/format.js';
import { Button, ErrorBox, Field, Page, Section, Table } from '../components/ui.js';
import { ConfirmButton, Form, OpStatus, enc, useOp } from './res-common.js';
import { NetworkDetail } from './res-network-detail.js';

/** Networks with leases and port forwards. */
export function NetworksPage(_props: { params: Record<string, string> }) {
  const list = useLoad(() => listAll<Network>('/networks', 'networks'));
  const [open, setOpen] = useState<string>();
  const op = useOp();
  const write = can('write', 'network');
  const sel = list.data?.find((n) => n.name === open);
  return (
    <Page title="Networks">
      <Section title="Networks" actions={<Button onClick={list.reload}>Refresh</Button>}>
        <ErrorBox error={list.error} />
        <OpStatus op={op.op} error={op.error} />
        <Table<Network>
          label="Networks"
          rows={list.data ?? (list.error ? [] : undefined)}
          rowKey={(n) => n.name}
          empty="No networks."
          columns={[
            { title: 'Name', cell: (n) => n.name },
            { title: 'Type', cell: (n) => `${n.type}, ${n.mode}` },
            { title: 'Subnet', cell: (n) => `${n.subnet}${n.ipv6?.subnet ? `, ${n.ipv6.subnet}` : ''}` },
            { title: 'Gateway', cell: (n) => n.gateway },
            { title: 'Bridge', cell: (n) => n.bridge },
            { title: 'Instances', cell: (n) => n.instances.join(', ') || '—' },
            { title: 'Created', cell: (n) => ago(n.createdAt) },
            {
              title: 'Actions',
              cell: (n) => (
                <span class="row-actions">
                  <Button onClick={() => setOpen(open === n.name ? undefined : n.name)} aria-expanded={open === n.name}>
                    {open === n.name ? 'Close' : 'Leases and forwards'}
                  </Button>
                  {write ? <ConfirmButton disabled={op.pending} onConfirm={() => void op.run(() => api.del(`/networks/${enc(n.name)}`), list.reload)} /> : null}
                </span>
              ),
            },
          ]}
        />
      </Section>
      {sel ? <NetworkDetail key={sel.name} network={sel} /> : null}
      {write ? <NetworkCreate reload={list.reload} /> : null}
    </Page>
  );
}

function NetworkCreate(props: { reload: () => void }) {
  const [name, setName] = useState('');
  const [mode, setMode] = useState<'nat' | 'routed' | 'isolated'>('nat');
  const [subnet, setSubnet] = useState('');
  const [ipv6, setIpv6] = useState('auto');
  const [description, setDescription] = useState('');
  const op = useOp();
  const submit = () =>
    op.run(
      () => api.post('/networks', { name: name.trim(), mode, ...(subnet.trim() ? { subnet: subnet.trim() } : {}), ipv6: ipv6.trim() || 'auto', ...(description.trim() ? { description: description.trim() } : {}) }),
      () => (setName(''), props.reload()),
    );
  return (
    <Section title="Create a network">
      <Form label="Create a network" onSubmit={() => void submit()}>
        <Field label="Network name">{(id) => <input id={id} required value={name} onInput={(e) => setName(e.currentTarget.value)} />}</Field>
        <Field label="Mode">
          {(id) => (
            <select id={id} value={mode} onChange={(e) => setMode(e.currentTarget.value as 'nat' | 'routed' | 'isolated')}>
              <option value="nat">nat</option>
              <option value="routed">routed</option>
              <option value="isolated">isolated</option>
            </select>
          )}
        </Field>
        <Field label="Subnet" hint="empty: a free /24">
          {(id) => <input id={id} value={subnet} placeholder="10.0.5.0/24" onInput={(e) => setSubnet(e.currentTarget.value)} />}
        </Field>
        <Field label="IPv6" hint='"auto", "none" or a /64'>
          {(id) => <input id={id} value={ipv6} onInput={(e) => setIpv6(e.currentTarget.value)} />}
        </Field>
        <Field label="Description">{(id) => <input id={id} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />}</Field>
        <Button kind="primary" type="submit" disabled={op.pending}>
          Create network
        </Button>
      </Form>
      <OpStatus op={op.op} error={op.error} label="create network" />
    </Section>
  );
}
