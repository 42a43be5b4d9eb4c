// The caller's API tokens: create one (its secret is shown once, here), revoke.
import { useState } from 'preact/hooks';
import type { Token, TokenCreated } from '../../../src/shared/identity-types.js';
import { api, listAll } from '../lib/api.js';
import { useAction, useLoad } from '../lib/hooks.js';
import { me } from '../lib/session.js';
import { ago } from '../lib/format.js';
import { Button, ErrorBox, Field, Page, Section, Table } from '../components/ui.js';
import { ConfirmButton, Form, enc, num } from './res-common.js';

/** API tokens. */
export function TokensPage(_props: { params: Record<string, string> }) {
  const list = useLoad(() => listAll<Token>('/tokens', 'tokens'));
  const act = useAction();
  const [secret, setSecret] = useState<TokenCreated>();
  return (
    <Page title="API tokens">
      <Section title="Your API tokens" actions={<Button onClick={list.reload}>Refresh</Button>}>
        <ErrorBox error={list.error ?? act.error} />
        <Table<Token>
          label="API tokens"
          rows={list.data ?? (list.error ? [] : undefined)}
          rowKey={(t) => t.id}
          empty="No API tokens."
          columns={[
            { title: 'Name', cell: (t) => t.name },
            { title: 'User', cell: (t) => t.user },
            { title: 'Access', cell: (t) => t.access },
            { title: 'Project', cell: (t) => t.project ?? 'all of the user\'s' },
            { title: 'Created', cell: (t) => ago(t.createdAt) },
            { title: 'Expires', cell: (t) => (t.expiresAt ? new Date(t.expiresAt).toLocaleString() : 'never') },
            { title: 'Last used', cell: (t) => (t.lastUsedAt ? ago(t.lastUsedAt) : 'never') },
            { title: 'State', cell: (t) => (t.revokedAt ? `revoked ${ago(t.revokedAt)}` : 'active') },
            { title: 'Actions', cell: (t) => (t.revokedAt ? null : <ConfirmButton label="Revoke" confirm="Confirm revoke" disabled={act.pending} onConfirm={() => void act.run(() => api.del(`/tokens/${enc(t.id)}`)).then(list.reload)} />) },
          ]}
        />
      </Section>
      {secret ? (
        <Section title={`Token ${secret.token.name} created`} actions={<Button onClick={() => setSecret(undefined)}>I have copied it</Button>}>
          <p>Copy the secret now: it is not shown again.</p>
          <Field label="Secret">{(id) => <input id={id} class="secret" readOnly value={secret.secret} size={60} onFocus={(e) => e.currentTarget.select()} />}</Field>
        </Section>
      ) : null}
      <TokenCreate created={(t) => (setSecret(t), list.reload())} />
    </Page>
  );
}

function TokenCreate(props: { created: (t: TokenCreated) => void }) {
  const [f, setF] = useState({ name: '', access: 'write', project: '', days: '' });
  const act = useAction();
  const set = (k: keyof typeof f) => (e: { currentTarget: { value: string } }) => setF({ ...f, [k]: e.currentTarget.value });
  const projects = Object.keys(me.value?.projects ?? {});
  const submit = () =>
    act.run(async () => {
      const days = num(f.days);
      const t = await api.post<TokenCreated>('/tokens', { name: f.name.trim(), access: f.access, ...(f.project ? { project: f.project } : {}), ...(days ? { expiresIn: Math.round(days * 86400) } : {}) });
      setF({ name: '', access: 'write', project: '', days: '' });
      props.created(t);
    });
  return (
    <Section title="Create a token">
      <Form label="Create a token" onSubmit={() => void submit()}>
        <Field label="Token name">{(id) => <input id={id} required value={f.name} onInput={set('name')} />}</Field>
        <Field label="Access">
          {(id) => (
            <select id={id} value={f.access} onChange={set('access')}>
              <option value="write">read and write</option>
              <option value="read">read only</option>
            </select>
          )}
        </Field>
        <Field label="Limited to project">
          {(id) => (
            <select id={id} value={f.project} onChange={set('project')}>
              <option value="">no limit</option>
              {projects.map((p) => (
                <option value={p}>{p}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Expires in days" hint="empty: never">
          {(id) => <input id={id} type="number" min={1} max={3660} value={f.days} onInput={set('days')} />}
        </Field>
        <Button kind="primary" type="submit" disabled={act.pending}>
          Create token
        </Button>
      </Form>
      <ErrorBox error={act.error} />
    </Section>
  );
}
