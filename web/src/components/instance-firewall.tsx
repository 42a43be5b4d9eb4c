// The Firewall tab: the security groups on each NIC of the instance; attach or detach a group (all NICs or one).
import { useState } from 'preact/hooks';
import type { Instance } from '../../../src/shared/api-types.js';
import type { SecurityGroup } from '../../../src/shared/network-types.js';
import { api, listAll } from '../lib/api.js';
import { useLoad } from '../lib/hooks.js';
import { can } from '../lib/session.js';
import { Button, ErrorBox, Field, Section, Table } from './ui.js';
import { OpStatus, useOp } from './instance-op.js';

/** Security groups of `inst`. */
export function FirewallTab(props: { inst: Instance; reload: () => void }) {
  const i = props.inst;
  const groups = useLoad(() => listAll<SecurityGroup>('/security-groups', 'securityGroups'), [i.name]);
  const write = can('write', 'secgroup');
  const op = useOp();
  const [group, setGroup] = useState('');
  const [nic, setNic] = useState('');
  const chosen = group || groups.data?.[0]?.name || '';
  const done = () => {
    groups.reload();
    props.reload();
  };
  const post = (g: string, what: 'attach' | 'detach', onNic?: string) =>
    void op.run(() => api.post(`/security-groups/${encodeURIComponent(g)}/${what}`, { instance: i.name, ...(onNic ? { nic: onNic } : {}) }), done);
  // attachedTo lists "INSTANCE/NIC"
  const rows = (groups.data ?? []).flatMap((g) => g.attachedTo.filter((a) => a.startsWith(`${i.name}/`)).map((a) => ({ group: g, nic: a.slice(i.name.length + 1) })));
  return (
    <Section title="Firewall groups">
      <ErrorBox error={groups.error} />
      <Table
        label="Attached security groups"
        rows={groups.data ? rows : undefined}
        rowKey={(r) => `${r.group.name}/${r.nic}`}
        empty="No security group on this instance's NICs: its traffic is not filtered by groups."
        columns={[
          { title: 'Group', cell: (r) => r.group.name },
          { title: 'NIC', cell: (r) => r.nic },
          { title: 'Rules', cell: (r) => r.group.rules.length, class: 'num' },
          { title: 'Description', cell: (r) => r.group.description || '—' },
          ...(write
            ? [
                {
                  title: 'Actions',
                  cell: (r: { group: SecurityGroup; nic: string }) => (
                    <Button disabled={op.pending} onClick={() => post(r.group.name, 'detach', r.nic)}>
                      Detach {r.group.name} from {r.nic}
                    </Button>
                  ),
                },
              ]
            : []),
        ]}
      />
      {write && groups.data?.length ? (
        <form
          class="inline"
          onSubmit={(e) => {
            e.preventDefault();
            post(chosen, 'attach', nic || undefined);
          }}
        >
          <Field label="Security group">
            {(id) => (
              <select id={id} value={chosen} onChange={(e) => setGroup(e.currentTarget.value)}>
                {groups.data!.map((g) => (
                  <option value={g.name}>{g.name}</option>
                ))}
              </select>
            )}
          </Field>
          <Field label="On NIC">
            {(id) => (
              <select id={id} value={nic} onChange={(e) => setNic(e.currentTarget.value)}>
                <option value="">all NICs</option>
                {i.nics.map((n) => (
                  <option value={n.name}>{n.name}</option>
                ))}
              </select>
            )}
          </Field>
          <Button kind="primary" type="submit" disabled={op.pending || !chosen}>
            Attach group
          </Button>
        </form>
      ) : null}
      <OpStatus op={op} label="Firewall" />
    </Section>
  );
}
