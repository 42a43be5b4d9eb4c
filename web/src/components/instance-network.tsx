// The Network tab: the instance's NICs (address, MAC, groups, counters), add one on a network, remove one.
import { useState } from 'preact/hooks';
import type { Instance, Nic } from '../../../src/shared/api-types.js';
import type { Network } from '../../../src/shared/network-types.js';
import { api, listAll } from '../lib/api.js';
import { bytes } from '../lib/format.js';
import { useLoad } from '../lib/hooks.js';
import { can } from '../lib/session.js';
import { Button, ErrorBox, Field, Section, Table } from './ui.js';
import { OpStatus, useOp } from './instance-op.js';

/** NICs of `inst`. */
export function NetworkTab(props: { inst: Instance; reload: () => void }) {
  const i = props.inst;
  const write = can('write', 'instance');
  const networks = useLoad(() => (write && can('read', 'network') ? listAll<Network>('/networks', 'networks') : Promise.resolve([])), [write]);
  const op = useOp();
  const [net, setNet] = useState('');
  const [addr, setAddr] = useState('');
  const base = `/instances/${encodeURIComponent(i.name)}/nics`;
  // One NIC per network: the API refuses a second one (its host name is reserved once per network).
  const free = (networks.data ?? []).filter((n) => !i.nics.some((x) => x.network === n.name));
  const chosen = net || free[0]?.name || '';
  const add = (e: Event) => {
    e.preventDefault();
    void op.run(() => api.post(base, { network: chosen, ...(addr.trim() ? { address: addr.trim() } : {}) }), props.reload);
  };
  return (
    <Section title="Network interfaces">
      <Table
        label="NICs"
        rows={i.nics}
        rowKey={(n) => n.name}
        empty="No NICs."
        columns={[
          { title: 'NIC', cell: (n) => n.name },
          { title: 'Network', cell: (n) => n.network },
          { title: 'Address', cell: (n) => [n.address, n.ipv6].filter(Boolean).join(', ') || '—' },
          { title: 'MAC', cell: (n) => <code>{n.mac}</code> },
          { title: 'Security groups', cell: (n) => n.securityGroups?.join(', ') || '—' },
          { title: 'Limits', cell: (n) => limits(n) },
          { title: 'Traffic (in / out)', cell: (n) => (n.counters ? `${bytes(n.counters.rxBytes)} / ${bytes(n.counters.txBytes)}` : '—') },
          ...(write
            ? [
                {
                  title: 'Actions',
                  cell: (n: Nic) => (
                    <Button disabled={op.pending} onClick={() => void op.run(() => api.del(`${base}/${encodeURIComponent(n.name)}`), props.reload)}>
                      Remove {n.name}
                    </Button>
                  ),
                },
              ]
            : []),
        ]}
      />
      {write && free.length ? (
        <form class="inline" onSubmit={add}>
          <Field label="Add NIC on network">
            {(id) => (
              <select id={id} value={chosen} onChange={(e) => setNet(e.currentTarget.value)}>
                {free.map((n) => (
                  <option value={n.name}>
                    {n.name} ({n.subnet})
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Address" hint="empty: the next free one">
            {(id) => <input id={id} value={addr} onInput={(e) => setAddr(e.currentTarget.value)} />}
          </Field>
          <Button kind="primary" type="submit" disabled={op.pending || !chosen}>
            Add NIC
          </Button>
        </form>
      ) : null}
      <ErrorBox error={networks.error} />
      <OpStatus op={op} label="NIC" />
    </Section>
  );
}

function limits(n: Nic): string {
  const f = (b?: number) => (b ? `${Math.round(b / 1e6)} Mbit/s` : 'none');
  return n.ingressBps || n.egressBps ? `in ${f(n.ingressBps)}, out ${f(n.egressBps)}` : '—';
}
