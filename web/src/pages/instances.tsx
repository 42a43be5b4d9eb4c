// The instance list: live state over the events socket (and a reload every 10 s), search and filters.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Instance } from '../../../src/shared/api-types.js';
import { listAll } from '../lib/api.js';
import { onEvent } from '../lib/events.js';
import { bytes, ago } from '../lib/format.js';
import { useInterval, message } from '../lib/hooks.js';
import { href } from '../lib/router.js';
import { can } from '../lib/session.js';
import { applyInstanceEvent, filterInstances, type InstanceFilter } from '../lib/instance-view.js';
import { Badge, ErrorBox, Field, Page, Table, type Column } from '../components/ui.js';

const STATES = ['creating', 'starting', 'running', 'stopping', 'stopped', 'paused', 'error', 'rescue'];

/** Instances of the project. */
export function InstancesPage(_props: { params: Record<string, string> }) {
  const [rows, setRows] = useState<Instance[]>();
  const [error, setError] = useState<string>();
  const [filter, setFilter] = useState<InstanceFilter>({ search: '', type: '', state: '' });
  const rowsRef = useRef<Instance[]>();
  rowsRef.current = rows;
  const timer = useRef<ReturnType<typeof setTimeout>>();

  const reload = () => {
    listAll<Instance>('/instances', 'instances').then(
      (list) => {
        setRows(list);
        setError(undefined);
      },
      (e: unknown) => setError(message(e)),
    );
  };
  const reloadSoon = () => {
    if (timer.current) clearTimeout(timer.current);
    timer.current = setTimeout(reload, 400);
  };

  useEffect(() => {
    reload();
    const stop = can('read', 'event')
      ? onEvent((ev) => {
          if (ev.type !== 'instance' || !rowsRef.current) return;
          const r = applyInstanceEvent(rowsRef.current, ev);
          setRows(r.rows);
          if (r.reload) reloadSoon();
        })
      : () => undefined;
    return () => {
      stop();
      if (timer.current) clearTimeout(timer.current);
    };
  }, []);
  useInterval(reload, 10_000);

  const columns: Column<Instance>[] = [
    { title: 'Name', cell: (i) => <a href={href(`/instances/${encodeURIComponent(i.name)}`)}>{i.name}</a> },
    { title: 'Type', cell: (i) => (i.type === 'vm' ? 'VM' : 'container') },
    { title: 'State', cell: (i) => <Badge state={i.state} /> },
    { title: 'Image', cell: (i) => i.image },
    { title: 'CPUs', cell: (i) => i.cpus, class: 'num' },
    { title: 'Memory', cell: (i) => bytes(i.memory), class: 'num' },
    { title: 'Addresses', cell: (i) => i.addresses.join(', ') || '—' },
    { title: 'Plan', cell: (i) => i.plan ?? '—' },
    { title: 'Age', cell: (i) => <time dateTime={i.createdAt}>{ago(i.createdAt)}</time> },
  ];
  const shown = rows && filterInstances(rows, filter);

  return (
    <Page
      title="Instances"
      actions={
        can('write', 'instance') ? (
          <a class="btn btn-primary" href={href('/instances/new')}>
            Create instance
          </a>
        ) : null
      }
    >
      <div class="inline instance-filters">
        <Field label="Search">
          {(id) => <input id={id} type="search" value={filter.search} placeholder="name, image, address, label" onInput={(e) => setFilter({ ...filter, search: e.currentTarget.value })} />}
        </Field>
        <Field label="Type">
          {(id) => (
            <select id={id} value={filter.type} onChange={(e) => setFilter({ ...filter, type: e.currentTarget.value as InstanceFilter['type'] })}>
              <option value="">any</option>
              <option value="vm">VM</option>
              <option value="container">container</option>
            </select>
          )}
        </Field>
        <Field label="State">
          {(id) => (
            <select id={id} value={filter.state} onChange={(e) => setFilter({ ...filter, state: e.currentTarget.value })}>
              <option value="">any</option>
              {STATES.map((s) => (
                <option value={s}>{s}</option>
              ))}
            </select>
          )}
        </Field>
      </div>
      <ErrorBox error={error} />
      {rows && rows.length > 0 && shown?.length === 0 ? (
        <p class="muted">No instance matches these filters.</p>
      ) : !error || rows ? (
        <Table label="Instances" columns={columns} rows={shown} rowKey={(i) => i.id} empty="No instances yet." />
      ) : null}
    </Page>
  );
}
