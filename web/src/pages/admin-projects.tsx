// Projects the caller can see: create and delete (admins), and each project's members (owners manage them).
import { useState } from 'preact/hooks';
import type { Project } from '../../../src/shared/identity-types.js';
import { api, listAll } from '../lib/api.js';
import { useAction, useLoad } from '../lib/hooks.js';
import { can } from '../lib/session.js';
import { ago } from '../lib/format.js';
import { Button, ErrorBox, Field, Page, Section, Table } from '../components/ui.js';
import { ConfirmButton, Form, enc } from './res-common.js';
import { Members } from './admin-members.js';

/** Projects and their members. */
export function ProjectsPage(_props: { params: Record<string, string> }) {
  const list = useLoad(() => listAll<Project>('/projects', 'projects'));
  const act = useAction();
  const [open, setOpen] = useState<string>();
  const write = can('write', 'project');
  return (
    <Page title="Projects">
      <Section title="Projects" actions={<Button onClick={list.reload}>Refresh</Button>}>
        <ErrorBox error={list.error ?? act.error} />
        <Table<Project>
          label="Projects"
          rows={list.data ?? (list.error ? [] : undefined)}
          rowKey={(p) => p.name}
          empty="No projects."
          columns={[
            { title: 'Name', cell: (p) => p.name },
            { title: 'Description', cell: (p) => p.description || '—' },
            { title: 'Created', cell: (p) => ago(p.createdAt) },
            {
              title: 'Actions',
              cell: (p) => (
                <span class="row-actions">
                  {can('read', 'member', p.name) ? (
                    <Button onClick={() => setOpen(open === p.name ? undefined : p.name)} aria-expanded={open === p.name}>
                      {open === p.name ? 'Close' : 'Members'}
                    </Button>
                  ) : null}
                  {write ? <ConfirmButton disabled={act.pending} onConfirm={() => void act.run(() => api.del(`/projects/${enc(p.name)}`)).then(list.reload)} /> : null}
                </span>
              ),
            },
          ]}
        />
      </Section>
      {open ? <Members key={open} project={open} /> : null}
      {write ? <ProjectCreate reload={list.reload} /> : null}
    </Page>
  );
}

function ProjectCreate(props: { reload: () => void }) {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const act = useAction();
  const submit = () =>
    act.run(() => api.post('/projects', { name: name.trim(), ...(description.trim() ? { description: description.trim() } : {}) })).then((ok) => {
      if (ok) (setName(''), setDescription(''));
      props.reload();
    });
  return (
    <Section title="Create a project">
      <Form label="Create a project" onSubmit={() => void submit()}>
        <Field label="Project name">{(id) => <input id={id} required value={name} onInput={(e) => setName(e.currentTarget.value)} />}</Field>
        <Field label="Project description">{(id) => <input id={id} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />}</Field>
        <Button kind="primary" type="submit" disabled={act.pending}>
          Create project
        </Button>
      </Form>
      <ErrorBox error={act.error} />
    </Section>
  );
}
