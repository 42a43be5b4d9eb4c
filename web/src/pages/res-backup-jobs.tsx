// The project's backup jobs: a cron schedule (UTC) for one instance or all, with retention; run now, delete.
import { useState } from 'preact/hooks';
import type { BackupJob, RetentionPolicy } from '../../../src/shared/backup-types.js';
import { api, listAll } from '../lib/api.js';
import { useAction, useLoad } from '../lib/hooks.js';
import { can } from '../lib/session.js';
import { ago } from '../lib/format.js';
import { Button, ErrorBox, Field, Section, Table } from '../components/ui.js';
import { keepText } from '../lib/res-values.js';
import { ConfirmButton, Form, enc, num, when } from './res-common.js';

const KEEP: [keyof RetentionPolicy, string][] = [
  ['keepLast', 'Keep last'],
  ['keepDaily', 'Keep daily'],
  ['keepWeekly', 'Keep weekly'],
  ['keepMonthly', 'Keep monthly'],
];

/** Backup jobs with their last and next runs. */
export function BackupJobs(props: { stores: string[] }) {
  const list = useLoad(() => listAll<BackupJob>('/backup-jobs', 'jobs'));
  const act = useAction();
  const [note, setNote] = useState<string>();
  const [edit, setEdit] = useState<BackupJob>();
  // A new key empties the form after each save.
  const [saved, setSaved] = useState(0);
  const write = can('write', 'backup');
  const runNow = (j: BackupJob) =>
    act.run(async () => {
      setNote(`running ${j.name}…`);
      const r = await api.post<{ result: string }>(`/backup-jobs/${enc(j.name)}/run`);
      setNote(`${j.name}: ${r.result}`);
    }).then((ok) => (ok || setNote(undefined), list.reload()));
  return (
    <Section title="Backup jobs" actions={<Button onClick={list.reload}>Refresh</Button>}>
      <ErrorBox error={list.error ?? act.error} />
      {note ? <p role="status">{note}</p> : null}
      <Table<BackupJob>
        label="Backup jobs"
        rows={list.data ?? (list.error ? [] : undefined)}
        rowKey={(j) => j.name}
        empty="No backup jobs."
        columns={[
          { title: 'Name', cell: (j) => j.name },
          { title: 'Schedule (UTC)', cell: (j) => <code>{j.cron}</code> },
          { title: 'Instance', cell: (j) => j.instance ?? 'all' },
          { title: 'Store', cell: (j) => j.store },
          { title: 'Retention', cell: (j) => keepText(j.keep) },
          { title: 'Last run', cell: (j) => (j.lastRun ? `${ago(j.lastRun)}${j.lastResult ? `: ${j.lastResult}` : ''}` : 'never') },
          { title: 'Next run', cell: (j) => (j.nextRun ? new Date(j.nextRun).toLocaleString() : '—') },
          ...when<BackupJob>(write, {
            title: 'Actions',
            cell: (j) =>
              write ? (
                <span class="row-actions">
                  <Button disabled={act.pending} onClick={() => void runNow(j)}>
                    Run now
                  </Button>
                  <Button onClick={() => setEdit(j)}>Edit</Button>
                  <ConfirmButton disabled={act.pending} onConfirm={() => void act.run(() => api.del(`/backup-jobs/${enc(j.name)}`)).then(list.reload)} />
                </span>
              ) : null,
          }),
        ]}
      />
      {write ? <JobForm key={edit?.name ?? `new${saved}`} job={edit} stores={props.stores} reload={() => (setEdit(undefined), setSaved(saved + 1), list.reload())} /> : null}
    </Section>
  );
}

function JobForm(props: { job?: BackupJob; stores: string[]; reload: () => void }) {
  const j = props.job;
  const [f, setF] = useState<Record<string, string>>({
    name: j?.name ?? '',
    store: j?.store ?? props.stores[0] ?? '',
    cron: j?.cron ?? '@daily',
    instance: j?.instance ?? '',
    ...Object.fromEntries(KEEP.map(([k]) => [k, j?.keep?.[k] === undefined ? '' : String(j.keep[k])])),
  });
  const act = useAction();
  const set = (k: string) => (e: { currentTarget: { value: string } }) => setF({ ...f, [k]: e.currentTarget.value });
  const submit = () => {
    const keep: RetentionPolicy = {};
    for (const [k] of KEEP) if (num(f[k]!) !== undefined) keep[k] = num(f[k]!);
    const body = { store: f.store || props.stores[0] || '', cron: f.cron!.trim(), ...(f.instance!.trim() ? { instance: f.instance!.trim() } : {}), ...(Object.keys(keep).length ? { keep } : {}) };
    return act.run(() => api.put(`/backup-jobs/${enc(f.name!.trim())}`, body)).then((ok) => ok && props.reload());
  };
  return (
    <>
      <h3>{j ? `Edit job ${j.name}` : 'Create a backup job'}</h3>
      <Form label={j ? 'Edit the backup job' : 'Create a backup job'} onSubmit={() => void submit()}>
        <Field label="Job name">{(id) => <input id={id} required readOnly={!!j} value={f.name} onInput={set('name')} />}</Field>
        <Field label="Job store">
          {(id) => (
            <select id={id} required value={f.store || props.stores[0] || ''} onChange={set('store')}>
              {props.stores.map((s) => (
                <option value={s}>{s}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Schedule" hint="cron (UTC) or @daily">
          {(id) => <input id={id} required value={f.cron} onInput={set('cron')} />}
        </Field>
        <Field label="Job instance" hint="empty: every instance">
          {(id) => <input id={id} value={f.instance} onInput={set('instance')} />}
        </Field>
        {KEEP.map(([k, label]) => (
          <Field label={label}>{(id) => <input id={id} type="number" min={0} size={4} value={f[k]} onInput={set(k)} />}</Field>
        ))}
        <Button kind="primary" type="submit" disabled={act.pending}>
          {j ? 'Save job' : 'Create job'}
        </Button>
        {j ? <Button onClick={props.reload}>Cancel</Button> : null}
      </Form>
      <ErrorBox error={act.error} />
    </>
  );
}
