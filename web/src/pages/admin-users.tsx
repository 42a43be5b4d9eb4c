// Users (platform roles see them; admins create, disable, delete and reset passwords).
import { useState } from 'preact/hooks';
import type { User } from '../../../src/shared/identity-types.js';
import { api, listAll } from '../lib/api.js';
import { useAction, useLoad } from '../lib/hooks.js';
import { can, me } from '../lib/session.js';
import { ago } from '../lib/format.js';
import { Button, ErrorBox, Field, Page, Section, Table } from '../components/ui.js';
import { ConfirmButton, Form, enc, when } from './res-common.js';

/** Users. */
export function UsersPage(_props: { params: Record<string, string> }) {
  const list = useLoad(() => listAll<User>('/users', 'users'));
  const act = useAction();
  const [note, setNote] = useState<string>();
  const [reset, setReset] = useState<string>();
  const write = can('write', 'user');
  const self = me.value?.user.name;
  const patch = (u: User, body: object, what: string) =>
    act.run(() => api.patch(`/users/${enc(u.name)}`, body)).then((ok) => {
      setNote(ok ? `${u.name}: ${what}` : undefined);
      list.reload();
    });
  return (
    <Page title="Users">
      <Section title="Users" actions={<Button onClick={list.reload}>Refresh</Button>}>
        <ErrorBox error={list.error ?? act.error} />
        {note ? <p role="status">{note}</p> : null}
        <Table<User>
          label="Users"
          rows={list.data ?? (list.error ? [] : undefined)}
          rowKey={(u) => u.name}
          empty="No users."
          columns={[
            { title: 'Name', cell: (u) => u.name },
            {
              title: 'Platform role',
              cell: (u) =>
                write && u.name !== self ? (
                  <select aria-label={`Platform role of ${u.name}`} value={u.platformRole ?? ''} disabled={act.pending} onChange={(e) => void patch(u, { platformRole: e.currentTarget.value || null }, `platform role ${e.currentTarget.value || 'none'}`)}>
                    <option value="">none</option>
                    <option value="operator">operator</option>
                    <option value="admin">admin</option>
                  </select>
                ) : (
                  u.platformRole ?? 'none'
                ),
            },
            { title: 'Default project', cell: (u) => u.defaultProject },
            { title: 'State', cell: (u) => (u.disabled ? 'disabled' : 'active') },
            { title: 'Created', cell: (u) => ago(u.createdAt) },
            ...when<User>(write, {
              title: 'Actions',
              cell: (u) =>
                write && u.name !== self ? (
                  <span class="row-actions">
                    <Button disabled={act.pending} onClick={() => void patch(u, { disabled: !u.disabled }, u.disabled ? 'enabled' : 'disabled')}>
                      {u.disabled ? 'Enable' : 'Disable'}
                    </Button>
                    <Button onClick={() => setReset(reset === u.name ? undefined : u.name)}>Reset password</Button>
                    <ConfirmButton disabled={act.pending} onConfirm={() => void act.run(() => api.del(`/users/${enc(u.name)}`)).then(list.reload)} />
                  </span>
                ) : null,
            }),
          ]}
        />
        {reset ? <PasswordReset key={reset} user={reset} done={(msg) => (setReset(undefined), setNote(msg))} /> : null}
      </Section>
      {write ? <UserCreate reload={list.reload} /> : null}
    </Page>
  );
}

function PasswordReset(props: { user: string; done: (msg: string) => void }) {
  const [pw, setPw] = useState('');
  const act = useAction();
  return (
    <>
      <Form label={`Reset the password of ${props.user}`} onSubmit={() => void act.run(() => api.patch(`/users/${enc(props.user)}`, { password: pw })).then((ok) => ok && props.done(`${props.user}: password changed`))}>
        <Field label={`New password for ${props.user}`}>{(id) => <input id={id} type="password" autoComplete="new-password" required value={pw} onInput={(e) => setPw(e.currentTarget.value)} />}</Field>
        <Button kind="primary" type="submit" disabled={act.pending}>
          Set password
        </Button>
      </Form>
      <ErrorBox error={act.error} />
    </>
  );
}

function UserCreate(props: { reload: () => void }) {
  const [f, setF] = useState({ name: '', password: '', platformRole: '', defaultProject: '' });
  const act = useAction();
  const set = (k: keyof typeof f) => (e: { currentTarget: { value: string } }) => setF({ ...f, [k]: e.currentTarget.value });
  const submit = () =>
    act
      .run(() => api.post('/users', { name: f.name.trim(), password: f.password, ...(f.platformRole ? { platformRole: f.platformRole } : {}), ...(f.defaultProject.trim() ? { defaultProject: f.defaultProject.trim() } : {}) }))
      .then((ok) => {
        if (ok) setF({ name: '', password: '', platformRole: '', defaultProject: '' });
        props.reload();
      });
  return (
    <Section title="Create a user">
      <Form label="Create a user" onSubmit={() => void submit()}>
        <Field label="User name">{(id) => <input id={id} required autoComplete="off" value={f.name} onInput={set('name')} />}</Field>
        <Field label="Password">{(id) => <input id={id} type="password" required autoComplete="new-password" value={f.password} onInput={set('password')} />}</Field>
        <Field label="Platform role">
          {(id) => (
            <select id={id} value={f.platformRole} onChange={set('platformRole')}>
              <option value="">none (a tenant)</option>
              <option value="operator">operator</option>
              <option value="admin">admin</option>
            </select>
          )}
        </Field>
        <Field label="Default project" hint="an existing project; empty: default">
          {(id) => <input id={id} value={f.defaultProject} onInput={set('defaultProject')} />}
        </Field>
        <Button kind="primary" type="submit" disabled={act.pending}>
          Create user
        </Button>
      </Form>
      <ErrorBox error={act.error} />
    </Section>
  );
}
