// The audit log (mutating calls and logins), newest first, a page at a time with "Load more"; filters by user and time.
import { useEffect, useState } from 'preact/hooks';
import type { AuditPage as AuditAnswer } from '../../../src/shared/trail-types.js';
import { api } from '../lib/api.js';
import { useAction } from '../lib/hooks.js';
import { Button, ErrorBox, Field, Page, Section, Table } from '../components/ui.js';
import { Form } from './res-common.js';
import { auditCall, localToIso } from '../lib/res-values.js';

type Entry = AuditAnswer['entries'][number];

/** The audit log. */
export function AuditPage(_props: { params: Record<string, string> }) {
  const [filter, setFilter] = useState({ user: '', since: '', until: '' });
  const [applied, setApplied] = useState(filter);
  const [rows, setRows] = useState<Entry[]>();
  const [next, setNext] = useState<string>();
  const act = useAction();
  const load = (after?: string) =>
    act.run(async () => {
      const page = await api.get<AuditAnswer>('/audit', { user: applied.user.trim() || undefined, since: localToIso(applied.since), until: localToIso(applied.until), limit: 100, after });
      setRows((r) => (after ? [...(r ?? []), ...page.entries] : page.entries));
      setNext(page.next);
    });
  useEffect(() => {
    setRows(undefined);
    void load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [applied]);
  const set = (k: keyof typeof filter) => (e: { currentTarget: { value: string } }) => setFilter({ ...filter, [k]: e.currentTarget.value });
  return (
    <Page title="Audit log">
      <Section title="Filters">
        <Form label="Filter the audit log" onSubmit={() => setApplied({ ...filter })}>
          <Field label="User">{(id) => <input id={id} value={filter.user} onInput={set('user')} />}</Field>
          <Field label="Since">{(id) => <input id={id} type="datetime-local" value={filter.since} onInput={set('since')} />}</Field>
          <Field label="Until">{(id) => <input id={id} type="datetime-local" value={filter.until} onInput={set('until')} />}</Field>
          <Button kind="primary" type="submit">
            Apply
          </Button>
        </Form>
      </Section>
      <Section title="Entries">
        <ErrorBox error={act.error} />
        <Table<Entry>
          label="Audit log"
          rows={rows ?? (act.error ? [] : undefined)}
          rowKey={(e) => e.id}
          empty="No entries."
          columns={[
            { title: 'Time', cell: (e) => new Date(e.time).toLocaleString() },
            { title: 'User', cell: (e) => `${e.user}${e.via ? ` (${e.via})` : ''}${e.loginName ? ` login as ${e.loginName}` : ''}` },
            { title: 'Action', cell: (e) => e.action },
            { title: 'Call', cell: (e) => <code>{`${e.method} ${auditCall(e.route, e.params)}`}</code> },
            { title: 'Project', cell: (e) => e.project ?? '—' },
            { title: 'Status', cell: (e) => `${e.status}${e.error ? ` ${e.error}` : ''}` },
            { title: 'Source', cell: (e) => e.source },
          ]}
        />
        {next ? (
          <Button disabled={act.pending} onClick={() => void load(next)}>
            Load more
          </Button>
        ) : null}
      </Section>
    </Page>
  );
}
