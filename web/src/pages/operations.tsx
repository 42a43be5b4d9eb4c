// Operations: every operation of the project, newest first, with live progress (events, and a poll every 2 s
// while one is pending or running), Cancel on those, and a row's log and error sentence on click.
import { useEffect, useState } from 'preact/hooks';
import type { Operation } from '../../../src/shared/api-types.js';
import { api, listAll } from '../lib/api.js';
import { can } from '../lib/session.js';
import { onEvent } from '../lib/events.js';
import { message, useAction, useInterval } from '../lib/hooks.js';
import { ago } from '../lib/format.js';
import { isActive, mergeOperation, operationOf } from '../lib/live-data.js';
import { Badge, Button, ErrorBox, Facts, Page, Progress, Section, Table } from '../components/ui.js';
import '../components/live-pages.css';

/** At most this many operations are listed (the newest). */
const MAX = 500;

/** Operations. */
export function OperationsPage(_props: { params: Record<string, string> }) {
  const [ops, setOps] = useState<Operation[]>();
  const [error, setError] = useState<string>();
  const [open, setOpen] = useState<string>();
  const cancel = useAction();
  // Cancel asks the operation to stop; it ends (cancelled) when its body next checks, so say it was asked.
  const [asked, setAsked] = useState<Set<string>>(new Set());
  const mayCancel = can('write', 'operation');

  const load = () =>
    listAll<Operation>('/operations', 'operations', {}, MAX).then(
      (list) => {
        setOps(list);
        setError(undefined);
      },
      (e: unknown) => setError(message(e)),
    );
  useEffect(() => {
    void load();
    return onEvent((ev) => {
      const op = operationOf(ev);
      if (op) setOps((cur) => mergeOperation(cur ?? [], op, MAX));
    });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  // Events carry progress as it happens; the poll catches what a dropped events socket missed.
  useInterval(() => {
    if (ops?.some(isActive)) void load();
  }, 2000);

  const shown = ops?.find((o) => o.id === open);
  return (
    <Page title="Operations">
      <ErrorBox error={error ?? cancel.error} />
      <Table<Operation>
        label="Operations"
        rowKey={(o) => o.id}
        rows={ops ?? (error ? [] : undefined)}
        empty="No operations in this project yet."
        columns={[
          {
            title: 'Kind',
            cell: (o) => (
              <button type="button" class="link" aria-expanded={open === o.id} onClick={() => setOpen(open === o.id ? undefined : o.id)}>
                {o.kind}
              </button>
            ),
          },
          { title: 'Target', cell: (o) => o.target },
          { title: 'Status', cell: (o) => <Badge state={o.status} /> },
          { title: 'Progress', cell: (o) => <Progress value={o.progress} label={`${o.kind} ${o.target} progress`} /> },
          { title: 'Created', cell: (o) => <time dateTime={o.createdAt} title={o.createdAt}>{ago(o.createdAt)}</time> },
          { title: 'Updated', cell: (o) => <time dateTime={o.updatedAt} title={o.updatedAt}>{ago(o.updatedAt)}</time> },
          {
            title: 'Actions',
            cell: (o) =>
              mayCancel && isActive(o) ? (
                asked.has(o.id) ? (
                  <span class="muted">cancelling…</span>
                ) : (
                  <Button
                    kind="danger"
                    disabled={cancel.pending}
                    onClick={() =>
                      void cancel.run(async () => {
                        await api.del(`/operations/${encodeURIComponent(o.id)}`);
                        setAsked((a) => new Set(a).add(o.id));
                        await load();
                      })
                    }
                  >
                    Cancel
                  </Button>
                )
              ) : null,
          },
        ]}
      />
      {shown ? <OperationDetail op={shown} onClose={() => setOpen(undefined)} /> : null}
    </Page>
  );
}

/** One operation's facts, error sentence and log (loaded in full: events carry only the last line). */
function OperationDetail(props: { op: Operation; onClose: () => void }) {
  const [full, setFull] = useState<Operation>();
  const [error, setError] = useState<string>();
  const { op } = props;
  useEffect(() => {
    api.get<Operation>(`/operations/${encodeURIComponent(op.id)}`).then(setFull, (e: unknown) => setError(message(e)));
  }, [op.id, op.status, op.log.length]);
  const o = full && full.updatedAt >= op.updatedAt ? full : { ...op, log: full && full.log.length > op.log.length ? full.log : op.log };
  return (
    <Section title={`Operation ${o.kind} on ${o.target}`} actions={<Button onClick={props.onClose}>Close</Button>}>
      <ErrorBox error={error} />
      <Facts
        items={[
          ['ID', <code>{o.id}</code>],
          ['Status', <Badge state={o.status} />],
          ['Progress', `${o.progress} %`],
          ['Created', o.createdAt],
          ['Updated', o.updatedAt],
          ...(o.project ? ([['Project', o.project]] as [string, string][]) : []),
        ]}
      />
      {o.error ? (
        <p class="error" role="alert">
          {o.error.message} <span class="muted">({o.error.code})</span>
        </p>
      ) : null}
      <h3>Log</h3>
      {o.log.length ? <pre class="op-log">{o.log.join('\n')}</pre> : <p class="muted">No log lines.</p>}
    </Section>
  );
}
