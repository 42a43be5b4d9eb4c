// Plans: everyone sees them (to choose one); platform roles create, edit and delete them.
import { useState } from 'preact/hooks';
import type { Plan } from '../../../src/shared/plan-types.js';
import { api, listAll } from '../lib/api.js';
import { useAction, useLoad } from '../lib/hooks.js';
import { can } from '../lib/session.js';
import { Button, ErrorBox, Page, Section, Table } from '../components/ui.js';
import { ConfirmButton, enc, when } from './res-common.js';
import { PlanForm } from './admin-plan-form.js';

/** Plans. */
export function PlansPage(_props: { params: Record<string, string> }) {
  const list = useLoad(() => listAll<Plan>('/plans', 'plans'));
  const act = useAction();
  const [edit, setEdit] = useState<Plan>();
  const write = can('write', 'plan');
  const done = () => (setEdit(undefined), list.reload());
  return (
    <Page title="Plans">
      <Section title="Plans" actions={<Button onClick={list.reload}>Refresh</Button>}>
        <ErrorBox error={list.error ?? act.error} />
        <Table<Plan>
          label="Plans"
          rows={list.data ?? (list.error ? [] : undefined)}
          rowKey={(p) => p.name}
          empty="No plans."
          columns={[
            { title: 'Name', cell: (p) => p.name },
            { title: 'Class', cell: (p) => p.class },
            { title: 'vCPUs', cell: (p) => p.vcpus, class: 'num' },
            { title: 'Memory', cell: (p) => `${p.memoryMiB} MiB`, class: 'num' },
            { title: 'Disk', cell: (p) => `${p.diskGiB} GiB`, class: 'num' },
            { title: 'Transfer', cell: (p) => (p.transferGiBPerMonth ? `${p.transferGiBPerMonth} GiB/month` : '—'), class: 'num' },
            { title: 'Price per hour', cell: (p) => p.pricePerHour, class: 'num' },
            { title: 'Description', cell: (p) => p.description || (p.builtin ? 'built in' : '') },
            ...when<Plan>(write, {
              title: 'Actions',
              cell: (p) =>
                write ? (
                  <span class="row-actions">
                    <Button onClick={() => setEdit(p)}>Edit</Button>
                    <ConfirmButton disabled={act.pending} onConfirm={() => void act.run(() => api.del(`/plans/${enc(p.name)}`)).then(list.reload)} />
                  </span>
                ) : null,
            }),
          ]}
        />
      </Section>
      {write ? (
        <Section title={edit ? `Edit plan ${edit.name}` : 'Create a plan'}>
          <PlanForm key={edit?.name ?? 'new'} plan={edit} done={done} />
        </Section>
      ) : null}
    </Page>
  );
}
