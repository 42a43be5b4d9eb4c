// A project's members: add a user with a role, change a role, remove (owners and admins; a project keeps one owner).
import { useState } from 'preact/hooks';
import type { Member } from '../../../src/shared/identity-types.js';
import { api, listAll } from '../lib/api.js';
import { useAction, useLoad } from '../lib/hooks.js';
import { can } from '../lib/session.js';
import { ago } from '../lib/format.js';
import { Button, ErrorBox, Field, Section, Table } from '../components/ui.js';
import { ConfirmButton, Form, enc, when } from './res-common.js';

type Role = Member['role'];
const ROLES: Role[] = ['owner', 'member', 'viewer'];

/** The members of `project`. */
export function Members(props: { project: string }) {
  const base = `/projects/${enc(props.project)}/members`;
  const list = useLoad(() => listAll<Member>(base, 'members'), [base]);
  const act = useAction();
  const write = can('write', 'member', props.project);
  const [user, setUser] = useState('');
  const [role, setRole] = useState<Role>('member');
  const add = () =>
    act.run(() => api.post(base, { user: user.trim(), role })).then((ok) => {
      if (ok) setUser('');
      list.reload();
    });
  return (
    <Section title={`Members of ${props.project}`} actions={<Button onClick={list.reload}>Refresh</Button>}>
      <ErrorBox error={list.error ?? act.error} />
      <Table<Member>
        label={`Members of ${props.project}`}
        rows={list.data ?? (list.error ? [] : undefined)}
        rowKey={(m) => m.user}
        empty="No members."
        columns={[
          { title: 'User', cell: (m) => m.user },
          {
            title: 'Role',
            cell: (m) =>
              write ? (
                <select aria-label={`Role of ${m.user}`} value={m.role} disabled={act.pending} onChange={(e) => void act.run(() => api.patch(`${base}/${enc(m.user)}`, { role: e.currentTarget.value })).then(list.reload)}>
                  {ROLES.map((r) => (
                    <option value={r}>{r}</option>
                  ))}
                </select>
              ) : (
                m.role
              ),
          },
          { title: 'Added', cell: (m) => ago(m.addedAt) },
          ...when<Member>(write, { title: 'Actions', cell: (m) => (write ? <ConfirmButton label="Remove" confirm="Confirm remove" disabled={act.pending} onConfirm={() => void act.run(() => api.del(`${base}/${enc(m.user)}`)).then(list.reload)} /> : null) }),
        ]}
      />
      {write ? (
        <Form label={`Add a member to ${props.project}`} onSubmit={() => void add()}>
          <Field label="User">{(id) => <input id={id} required value={user} onInput={(e) => setUser(e.currentTarget.value)} />}</Field>
          <Field label="Role">
            {(id) => (
              <select id={id} value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
                {ROLES.map((r) => (
                  <option value={r}>{r}</option>
                ))}
              </select>
            )}
          </Field>
          <Button kind="primary" type="submit" disabled={act.pending}>
            Add member
          </Button>
        </Form>
      ) : null}
    </Section>
  );
}
