// The Activity tab: operations whose target is this instance, and its live events since the tab opened.
import { useEffect, useState } from 'preact/hooks';
import type { Event, Instance, Operation } from '../../../src/shared/api-types.js';
import { api } from '../lib/api.js';
import { onEvent } from '../lib/events.js';
import { ago } from '../lib/format.js';
import { useInterval, useLoad } from '../lib/hooks.js';
import { can } from '../lib/session.js';
import { targetsInstance } from '../lib/instance-view.js';
import { Badge, ErrorBox, Section, Table } from './ui.js';

/** Operations and events of `inst`. */
export function ActivityTab(props: { inst: Instance }) {
  const name = props.inst.name;
  // The newest 500 operations of the project are enough for one instance's recent activity.
  const ops = useLoad(
    () => (can('read', 'operation') ? api.get<{ operations: Operation[] }>('/operations', { limit: 500 }).then((r) => r.operations.filter((o) => targetsInstance(o.target, name))) : Promise.resolve([])),
    [name],
  );
  const [events, setEvents] = useState<Event[]>([]);
  useEffect(() => {
    if (!can('read', 'event')) return undefined;
    return onEvent((ev) => {
      if (!targetsInstance(ev.target, name)) return;
      setEvents((list) => [ev, ...list].slice(0, 100));
      if (ev.type === 'operation') ops.reload();
    });
  }, [name, ops.reload]);
  useInterval(ops.reload, 10_000);
  return (
    <>
      <Section title="Operations">
        <ErrorBox error={ops.error} />
        <Table
          label="Instance operations"
          rows={ops.data}
          rowKey={(o) => o.id}
          empty="No operations on this instance."
          columns={[
            { title: 'Started', cell: (o) => <time dateTime={o.createdAt} title={o.createdAt}>{ago(o.createdAt)}</time> },
            { title: 'Kind', cell: (o) => o.kind },
            { title: 'Status', cell: (o) => <Badge state={o.status} /> },
            { title: 'Progress', cell: (o) => `${o.progress}%`, class: 'num' },
            { title: 'Detail', cell: (o) => o.error?.message ?? o.log[o.log.length - 1] ?? '' },
          ]}
        />
      </Section>
      {can('read', 'event') ? (
        <Section title="Live events">
          <Table
            label="Instance events"
            rows={events}
            rowKey={(e) => `${e.time}/${e.type}/${JSON.stringify(e.data).slice(0, 60)}`}
            empty="No events since this tab opened."
            columns={[
              { title: 'Time', cell: (e) => <time dateTime={e.time}>{new Date(e.time).toLocaleTimeString()}</time> },
              { title: 'Type', cell: (e) => e.type },
              { title: 'Data', cell: (e) => <code>{summary(e)}</code> },
            ]}
          />
        </Section>
      ) : null}
    </>
  );
}

function summary(e: Event): string {
  const d = e.data as Record<string, unknown> | undefined;
  if (e.type === 'operation' && d) return `${String(d.kind)} ${String(d.status)} ${String(d.progress)}%`;
  return JSON.stringify(d ?? {}).slice(0, 200);
}
