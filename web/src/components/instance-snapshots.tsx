// The Snapshots tab: the instance's snapshots (take, restore, delete) and its snapshot schedule.
import { useState } from 'preact/hooks';
import type { Instance } from '../../../src/shared/api-types.js';
import type { InstanceSnapshot } from '../../../src/shared/storage-types.js';
import { api, listAll } from '../lib/api.js';
import { ago } from '../lib/format.js';
import { useLoad } from '../lib/hooks.js';
import { can } from '../lib/session.js';
import { Button, ErrorBox, Facts, Field, Section, Table } from './ui.js';
import { OpStatus, isNotFound, useOp } from './instance-op.js';

interface Schedule {
  cron: string;
  expiry?: string;
  stateful?: boolean;
  lastRun: string;
  nextRun?: string;
}

/** Snapshots of `inst` and their schedule. */
export function SnapshotsTab(props: { inst: Instance; reload: () => void }) {
  const i = props.inst;
  const base = `/instances/${encodeURIComponent(i.name)}`;
  const snaps = useLoad(() => listAll<InstanceSnapshot>(`${base}/snapshots`, 'snapshots'), [base]);
  const write = can('write', 'snapshot');
  const op = useOp();
  const [name, setName] = useState('');
  const [stateful, setStateful] = useState(false);
  const [expiry, setExpiry] = useState('');
  const done = () => {
    snaps.reload();
    props.reload();
  };
  const take = (e: Event) => {
    e.preventDefault();
    const body = { ...(name.trim() ? { name: name.trim() } : {}), ...(stateful ? { stateful } : {}), ...(expiry.trim() ? { expiry: expiry.trim() } : {}) };
    void op.run(() => api.post(`${base}/snapshots`, body), () => (setName(''), done()));
  };
  return (
    <>
      <Section title="Snapshots">
        {write ? (
          <form class="inline" onSubmit={take}>
            <Field label="Snapshot name" hint="empty: a name from the time">
              {(id) => <input id={id} value={name} onInput={(e) => setName(e.currentTarget.value)} />}
            </Field>
            <Field label="Expires after" hint="e.g. 7d, 12h; empty: never">
              {(id) => <input id={id} value={expiry} size={8} onInput={(e) => setExpiry(e.currentTarget.value)} />}
            </Field>
            {i.type === 'vm' ? (
              <label class="check">
                <input type="checkbox" checked={stateful} onChange={(e) => setStateful(e.currentTarget.checked)} /> With RAM (stateful)
              </label>
            ) : null}
            <Button kind="primary" type="submit" disabled={op.pending}>
              Take snapshot
            </Button>
          </form>
        ) : null}
        <OpStatus op={op} label="Snapshot" />
        <ErrorBox error={snaps.error} />
        <Table
          label="Snapshots"
          rows={snaps.data}
          rowKey={(s) => s.name}
          empty="No snapshots."
          columns={[
            { title: 'Name', cell: (s) => s.name },
            { title: 'Taken', cell: (s) => <time dateTime={s.createdAt} title={s.createdAt}>{ago(s.createdAt)}</time> },
            { title: 'Kind', cell: (s) => `${s.stateful ? 'stateful' : 'disk only'}${s.kind ? ` (${s.kind})` : ''}` },
            { title: 'Expires', cell: (s) => s.expiresAt ?? 'never' },
            ...(write
              ? [
                  {
                    title: 'Actions',
                    cell: (s: InstanceSnapshot) => (
                      <span class="row-actions">
                        <Button disabled={op.pending} onClick={() => void op.run(() => api.post(`${base}/snapshots/${encodeURIComponent(s.name)}/restore`), done)}>
                          Restore {s.name}
                        </Button>
                        <Button kind="danger" disabled={op.pending} onClick={() => void op.run(() => api.del(`${base}/snapshots/${encodeURIComponent(s.name)}`), done)}>
                          Delete {s.name}
                        </Button>
                      </span>
                    ),
                  },
                ]
              : []),
          ]}
        />
      </Section>
      <ScheduleSection base={base} vm={i.type === 'vm'} />
    </>
  );
}

function ScheduleSection(props: { base: string; vm: boolean }) {
  // GET answers 404 when no schedule is set, which the browser logs as a console error: read it on demand only.
  const [sched, setSched] = useState<Schedule | null>();
  const write = can('write', 'snapshot');
  const op = useOp();
  const [cron, setCron] = useState('');
  const [expiry, setExpiry] = useState('');
  const s = sched;
  const show = () => void op.run(() => api.get<Schedule>(`${props.base}/snapshot-schedule`).then(setSched, (e: unknown) => (isNotFound(e) ? setSched(null) : Promise.reject(e))));
  const save = (e: Event) => {
    e.preventDefault();
    void op.run(() => api.put<Schedule>(`${props.base}/snapshot-schedule`, { cron: cron.trim() || s?.cron || '@daily', ...(expiry.trim() ? { expiry: expiry.trim() } : {}) }).then(setSched));
  };
  return (
    <Section title="Snapshot schedule" actions={s === undefined ? <Button onClick={show} disabled={op.pending}>Show schedule</Button> : null}>
      {s ? (
        <Facts
          items={[
            ['Schedule (UTC)', s.cron],
            ['Expiry', s.expiry ?? 'never'],
            ['Last run', s.lastRun ? ago(s.lastRun) : '—'],
            ['Next run', s.nextRun ?? '—'],
          ]}
        />
      ) : s === null ? (
        <p class="muted">No scheduled snapshots.</p>
      ) : null}
      {write ? (
        <form class="inline" onSubmit={save}>
          <Field label="Schedule" hint="5-field cron (UTC) or @hourly, @daily, @weekly">
            {(id) => <input id={id} value={cron} placeholder={s?.cron ?? '@daily'} onInput={(e) => setCron(e.currentTarget.value)} />}
          </Field>
          <Field label="Keep for" hint="e.g. 7d; empty: forever">
            {(id) => <input id={id} value={expiry} size={8} placeholder={s?.expiry ?? ''} onInput={(e) => setExpiry(e.currentTarget.value)} />}
          </Field>
          <Button type="submit" disabled={op.pending}>
            Save schedule
          </Button>
          {s ? (
            <Button kind="danger" disabled={op.pending} onClick={() => void op.run(() => api.del(`${props.base}/snapshot-schedule`).then(() => setSched(null)))}>
              Stop schedule
            </Button>
          ) : null}
        </form>
      ) : null}
      <OpStatus op={op} label="Schedule" />
    </Section>
  );
}
