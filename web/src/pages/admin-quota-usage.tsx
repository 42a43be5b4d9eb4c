// The project's quota (limits and what it uses now; admins change limits) and its usage in a month.
import { useState } from 'preact/hooks';
import type { Quota, QuotaField } from '../../../src/shared/plan-types.js';
import type { UsageReport, UsageRow } from '../../../src/shared/trail-types.js';
import { api } from '../lib/api.js';
import { useAction, useLoad } from '../lib/hooks.js';
import { can, project } from '../lib/session.js';
import { bytes } from '../lib/format.js';
import { Button, ErrorBox, Field, Loading, Page, Progress, Section, Table } from '../components/ui.js';
import { Form, num } from './res-common.js';

const FIELDS: [QuotaField, string][] = [
  ['instances', 'Instances'],
  ['vcpus', 'vCPUs'],
  ['memoryMiB', 'Memory (MiB)'],
  ['diskGiB', 'Disk (GiB)'],
  ['networks', 'Networks'],
  ['floatingIps', 'Floating IPs'],
  ['snapshots', 'Snapshots'],
];

/** Quota and usage of the panel's project. */
export function QuotaUsagePage(_props: { params: Record<string, string> }) {
  return (
    <Page title="Quota and usage">
      {can('read', 'quota') ? <QuotaSection /> : null}
      <UsageSection />
    </Page>
  );
}

function QuotaSection() {
  const q = useLoad(() => api.get<Quota>('/quota'));
  const act = useAction();
  const [f, setF] = useState<Record<string, string>>();
  const write = can('write', 'quota');
  const limits = f ?? Object.fromEntries(FIELDS.map(([k]) => [k, q.data?.limits[k] === null || q.data?.limits[k] === undefined ? '' : String(q.data.limits[k])]));
  const save = () => {
    const body = Object.fromEntries(FIELDS.map(([k]) => [k, num(limits[k] ?? '') ?? null]));
    return act.run(() => api.put('/quota', body)).then((ok) => ok && (setF(undefined), q.reload()));
  };
  return (
    <Section title={`Quota of project ${project.value}`}>
      <ErrorBox error={q.error} />
      {!q.data ? (
        q.error ? null : <Loading />
      ) : (
        <Table<[QuotaField, string]>
          label="Quota"
          rows={FIELDS}
          rowKey={(r) => r[0]}
          columns={[
            { title: 'Resource', cell: ([, l]) => l },
            { title: 'Used', cell: ([k]) => q.data!.usage[k], class: 'num' },
            { title: 'Limit', cell: ([k]) => q.data!.limits[k] ?? 'unlimited', class: 'num' },
            {
              title: 'Share',
              cell: ([k, l]) => {
                const lim = q.data!.limits[k];
                return lim ? <Progress value={Math.min(100, Math.round((q.data!.usage[k] / lim) * 100))} label={`${l} used of the limit`} /> : '—';
              },
            },
          ]}
        />
      )}
      {write && q.data ? (
        <>
          <h3>Change the limits</h3>
          <Form label="Change the limits" onSubmit={() => void save()}>
            {FIELDS.map(([k, l]) => (
              <Field label={`${l} limit`} hint="empty: unlimited">
                {(id) => <input id={id} type="number" min={0} size={6} value={limits[k]} onInput={(e) => setF({ ...limits, [k]: e.currentTarget.value })} />}
              </Field>
            ))}
            <Button kind="primary" type="submit" disabled={act.pending}>
              Save limits
            </Button>
          </Form>
          <ErrorBox error={act.error} />
        </>
      ) : null}
    </Section>
  );
}

function hours(h: Record<string, number>): string {
  return Object.entries(h).map(([plan, n]) => `${plan}: ${n.toFixed(1)} h`).join(', ') || '—';
}

function UsageSection() {
  const [month, setMonth] = useState(new Date().toISOString().slice(0, 7));
  const u = useLoad(() => api.get<UsageReport>('/usage', { month, limit: 1000 }), [month]);
  return (
    <Section
      title="Usage"
      actions={
        <Field label="Month">{(id) => <input id={id} type="month" value={month} onChange={(e) => e.currentTarget.value && setMonth(e.currentTarget.value)} />}</Field>
      }
    >
      <ErrorBox error={u.error} />
      {u.data ? (
        <>
          <p>
            Totals for {u.data.month}: {hours(u.data.totals.instanceHours)}; disk {u.data.totals.diskGbHours.toFixed(1)} GB-hours; transfer in {bytes(u.data.totals.transferInBytes)}, out{' '}
            {bytes(u.data.totals.transferOutBytes)}.
          </p>
          <Table<UsageRow>
            label="Usage by instance"
            rows={u.data.instances}
            rowKey={(r) => r.instance}
            empty="No usage in this month."
            columns={[
              { title: 'Instance', cell: (r) => r.name },
              { title: 'Hours by plan', cell: (r) => hours(r.instanceHours) },
              { title: 'Disk GB-hours', cell: (r) => r.diskGbHours.toFixed(1), class: 'num' },
              { title: 'In', cell: (r) => bytes(r.transferInBytes), class: 'num' },
              { title: 'Out', cell: (r) => bytes(r.transferOutBytes), class: 'num' },
            ]}
          />
          {(u.data as UsageReport & { next?: string }).next ? <p class="muted">More than 1000 instances: the first 1000 are shown.</p> : null}
        </>
      ) : u.error ? null : (
        <Loading />
      )}
    </Section>
  );
}
