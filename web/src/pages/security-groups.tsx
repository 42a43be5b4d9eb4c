// Security groups of the project: their rules (add, delete), where they are attached, create and delete groups.
import { useState } from 'preact/hooks';
import type { SecurityGroup, SecurityRule } from '../../../src/shared/network-types.js';
import { api, listAll } from '../lib/api.js';
import { useAction, useLoad } from '../lib/hooks.js';
import { can } from '../lib/session.js';
import { ago } from '../lib/format.js';
import { Button, ErrorBox, Field, Page, Section, Table } from '../components/ui.js';
import { ConfirmButton, Form, enc, when } from './res-common.js';
import { RuleAdd } from './res-rule-add.js';
import { SecGroupAttach } from './res-secgroup-attach.js';

/** Security groups and rules. */
export function SecurityGroupsPage(_props: { params: Record<string, string> }) {
  const list = useLoad(() => listAll<SecurityGroup>('/security-groups', 'securityGroups'));
  const act = useAction();
  const write = can('write', 'secgroup');
  return (
    <Page title="Security groups" actions={<Button onClick={list.reload}>Refresh</Button>}>
      <ErrorBox error={list.error ?? act.error} />
      {list.data === undefined && !list.error ? <p class="muted">Loading…</p> : null}
      {list.data?.length === 0 ? <p class="muted">No security groups yet.</p> : null}
      {list.data?.map((g) => (
        <Section
          key={g.name}
          title={g.name}
          actions={write ? <ConfirmButton label="Delete group" confirm="Confirm delete" disabled={act.pending} onConfirm={() => void act.run(() => api.del(`/security-groups/${enc(g.name)}`)).then(list.reload)} /> : null}
        >
          {g.description ? <p>{g.description}</p> : null}
          <p class="muted">Created {ago(g.createdAt)}</p>
          <Table<SecurityRule>
            label={`Rules of ${g.name}`}
            rows={g.rules}
            rowKey={(r) => r.id ?? JSON.stringify(r)}
            empty="No rules: nothing is allowed in."
            columns={[
              { title: 'Direction', cell: (r) => r.direction },
              { title: 'Protocol', cell: (r) => r.protocol },
              { title: 'Ports', cell: (r) => r.ports ?? 'all' },
              { title: 'Source', cell: (r) => r.source ?? 'any' },
              { title: 'Destination', cell: (r) => r.destination ?? 'any' },
              { title: 'Description', cell: (r) => r.description ?? '' },
              ...when<SecurityRule>(write, {
                title: 'Actions',
                cell: (r) =>
                  write && r.id ? (
                    <ConfirmButton label="Delete rule" confirm="Confirm delete" disabled={act.pending} onConfirm={() => void act.run(() => api.del(`/security-groups/${enc(g.name)}/rules/${enc(r.id!)}`)).then(list.reload)} />
                  ) : null,
              }),
            ]}
          />
          {write ? <RuleAdd group={g.name} reload={list.reload} /> : null}
          <SecGroupAttach group={g} write={write} reload={list.reload} />
        </Section>
      ))}
      {write ? <GroupCreate reload={list.reload} /> : null}
    </Page>
  );
}

function GroupCreate(props: { reload: () => void }) {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const act = useAction();
  const submit = () =>
    act.run(() => api.post('/security-groups', { name: name.trim(), ...(description.trim() ? { description: description.trim() } : {}) })).then((ok) => {
      if (ok) setName('');
      props.reload();
    });
  return (
    <Section title="Create a security group">
      <Form label="Create a security group" onSubmit={() => void submit()}>
        <Field label="Group name">{(id) => <input id={id} required value={name} onInput={(e) => setName(e.currentTarget.value)} />}</Field>
        <Field label="Group description">{(id) => <input id={id} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />}</Field>
        <Button kind="primary" type="submit" disabled={act.pending}>
          Create group
        </Button>
      </Form>
      <ErrorBox error={act.error} />
    </Section>
  );
}
