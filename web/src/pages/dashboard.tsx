// Dashboard: instances by state, the host's capacity and usage (platform roles), the project's quota and usage,
// recent operations and live events. Each block shows only when the caller may read what it needs.
import { useEffect, useState } from 'preact/hooks';
import type { ComponentType } from 'preact';
import type { Event, HostInfo, Instance, Operation } from '../../../src/shared/api-types.js';
import type { Pool } from '../../../src/shared/storage-types.js';
import type { Quota } from '../../../src/shared/plan-types.js';
import type { UsageReport } from '../../../src/shared/trail-types.js';
import { api, listAll } from '../lib/api.js';
import { can } from '../lib/session.js';
import { onEvent } from '../lib/events.js';
import { useLoad } from '../lib/hooks.js';
import { href } from '../lib/router.js';
import { bytes, ago } from '../lib/format.js';
import { countByState, eventSummary, mergeOperation, operationOf, pushEvent } from '../lib/live-data.js';
import { Badge, ErrorBox, Facts, Loading, Page, Progress, Section, Table } from '../components/ui.js';
import '../components/live-pages.css';

/** Dashboard. */
export function DashboardPage(_props: { params: Record<string, string> }) {
  // One subscription for the page, shared by its blocks: subscribing several times at once would race to open
  // the events socket more than once (lib/events.ts opens asynchronously), and each event would come twice.
  const [listeners] = useState(() => new Set<(ev: Event) => void>());
  useEffect(() => (can('read', 'event') ? onEvent((ev) => listeners.forEach((l) => l(ev))) : undefined), [listeners]);
  const listen: Listen = (fn) => {
    listeners.add(fn);
    return () => void listeners.delete(fn);
  };
  return (
    <Page title="Dashboard">
      {can('read', 'instance') ? <InstancesBlock listen={listen} /> : null}
      {can('read', 'host') ? <HostBlock /> : null}
      {can('read', 'quota') ? <QuotaBlock /> : null}
      {can('read', 'operation') ? <OperationsBlock listen={listen} /> : null}
      {can('read', 'event') ? <EventsBlock listen={listen} /> : null}
    </Page>
  );
}

/** Listen to the page's events; returns the function that stops listening. */
type Listen = (fn: (ev: Event) => void) => () => void;

function InstancesBlock(props: { listen: Listen }) {
  const list = useLoad(() => listAll<Instance>('/instances', 'instances'));
  // A state change elsewhere shows here at once (reloads are coalesced: a burst of events costs one list).
  useEffect(() => {
    let t: ReturnType<typeof setTimeout> | undefined;
    const off = props.listen((ev) => {
      if (ev.type !== 'instance' || t) return;
      t = setTimeout(() => {
        t = undefined;
        list.reload();
      }, 500);
    });
    return () => {
      off();
      if (t) clearTimeout(t);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  const items = list.data;
  const running = items?.filter((i) => i.state === 'running') ?? [];
  return (
    <Section title="Instances" actions={<a href={href('/instances')}>All instances</a>}>
      <ErrorBox error={list.error} />
      {!items ? (
        list.error ? null : <Loading />
      ) : (
        <div class="grid">
          <div>
            <div class="stat">{items.length}</div>
            <div class="muted">instances</div>
          </div>
          {countByState(items).map(([state, n]) => (
            <div>
              <div class="stat">{n}</div>
              <Badge state={state} />
            </div>
          ))}
          <div>
            <div class="stat">{running.reduce((s, i) => s + i.cpus, 0)}</div>
            <div class="muted">vCPUs running ({bytes(running.reduce((s, i) => s + i.memory, 0))} memory)</div>
          </div>
        </div>
      )}
    </Section>
  );
}

function HostBlock() {
  const host = useLoad(() => api.get<HostInfo>('/host'));
  const pools = useLoad(() => (can('read', 'pool') ? listAll<Pool>('/storage/pools', 'pools') : Promise.resolve(undefined)));
  const Graphs = useLazyGraphs();
  const h = host.data;
  return (
    <Section title="Host">
      <ErrorBox error={host.error ?? pools.error} />
      {h ? (
        <Facts
          items={[
            ['Host', h.hostname],
            ['CPUs', String(h.cpus)],
            ['Memory', bytes(h.memory)],
            ['Accelerator', h.accelerator],
            ['Version', h.version],
            ['Checks', `${h.checks.filter((c) => c.ok).length} of ${h.checks.length} pass`],
          ]}
        />
      ) : host.error ? null : (
        <Loading />
      )}
      {pools.data?.length ? (
        <Table<Pool>
          label="Storage pools"
          rowKey={(p) => p.name}
          rows={pools.data}
          columns={[
            { title: 'Pool', cell: (p) => p.name },
            { title: 'Used', cell: (p) => `${bytes(p.used)} of ${bytes(p.size)}` },
            { title: 'Usage', cell: (p) => <Progress value={p.size ? Math.round((p.used / p.size) * 100) : 0} label={`pool ${p.name} used`} /> },
            { title: 'Provisioned', cell: (p) => `${bytes(p.provisioned)} (${Math.round(p.overProvisioning * 100)} %)` },
            { title: 'Volumes', class: 'num', cell: (p) => p.volumes },
          ]}
        />
      ) : null}
      {Graphs ? <Graphs compact /> : <Loading />}
    </Section>
  );
}

/** The graphs component, loaded on first use (uPlot stays out of the first page's bundle). */
function useLazyGraphs(): ComponentType<{ instance?: string; compact?: boolean }> | undefined {
  const [comp, setComp] = useState<ComponentType<{ instance?: string; compact?: boolean }>>();
  useEffect(() => {
    let live = true;
    void import('../components/metrics-graphs.js').then((m) => live && setComp(() => m.MetricsGraphs));
    return () => {
      live = false;
    };
  }, []);
  return comp;
}

const QUOTA_ROWS: [keyof Quota['usage'], string, (n: number) => string][] = [
  ['instances', 'Instances', String],
  ['vcpus', 'vCPUs', String],
  ['memoryMiB', 'Memory', (n) => bytes(n * 1024 * 1024)],
  ['diskGiB', 'Disk', (n) => bytes(n * 1024 ** 3)],
  ['networks', 'Networks', String],
  ['floatingIps', 'Floating IPs', String],
  ['snapshots', 'Snapshots', String],
];

function QuotaBlock() {
  const quota = useLoad(() => api.get<Quota>('/quota'));
  const usage = useLoad(() => (can('read', 'usage') ? api.get<UsageReport>('/usage', { limit: 1 }) : Promise.resolve(undefined)));
  const q = quota.data;
  const u = usage.data;
  return (
    <Section title="Quota and usage">
      <ErrorBox error={quota.error ?? usage.error} />
      {q ? (
        <Table<(typeof QUOTA_ROWS)[number]>
          label="Quota"
          rowKey={(r) => r[0]}
          rows={QUOTA_ROWS}
          columns={[
            { title: 'Resource', cell: (r) => r[1] },
            { title: 'Used', cell: (r) => `${r[2](q.usage[r[0]])} of ${q.limits[r[0]] === null ? 'unlimited' : r[2](q.limits[r[0]]!)}` },
            { title: 'Share', cell: (r) => (q.limits[r[0]] ? <Progress value={Math.min(100, Math.round((q.usage[r[0]] / q.limits[r[0]]!) * 100))} label={`${r[1]} used of quota`} /> : <span class="muted">no limit</span>) },
          ]}
        />
      ) : quota.error ? null : (
        <Loading />
      )}
      {u ? (
        <Facts
          items={[
            [`Instance-hours (${u.month})`, Object.values(u.totals.instanceHours).reduce((s, n) => s + n, 0).toFixed(1)],
            ['Disk GB-hours', u.totals.diskGbHours.toFixed(0)],
            ['Transfer in', bytes(u.totals.transferInBytes)],
            ['Transfer out', bytes(u.totals.transferOutBytes)],
          ]}
        />
      ) : null}
    </Section>
  );
}

function OperationsBlock(props: { listen: Listen }) {
  const [ops, setOps] = useState<Operation[]>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    api.get<{ operations: Operation[] }>('/operations', { limit: 8 }).then(
      (r) => setOps((cur) => (cur ?? []).reduce((l, o) => mergeOperation(l, o, 8), r.operations)),
      (e: unknown) => setError(e instanceof Error ? e.message : String(e)),
    );
    return props.listen((ev) => {
      const op = operationOf(ev);
      if (op) setOps((cur) => mergeOperation(cur ?? [], op, 8));
    });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  return (
    <Section title="Recent operations" actions={<a href={href('/operations')}>All operations</a>}>
      <ErrorBox error={error} />
      <Table<Operation>
        label="Recent operations"
        rowKey={(o) => o.id}
        rows={ops ?? (error ? [] : undefined)}
        empty="No operations yet."
        columns={[
          { title: 'Kind', cell: (o) => o.kind },
          { title: 'Target', cell: (o) => o.target },
          { title: 'Status', cell: (o) => <Badge state={o.status} /> },
          { title: 'Progress', cell: (o) => <Progress value={o.progress} label={`${o.kind} ${o.target} progress`} /> },
          { title: 'Created', cell: (o) => <time dateTime={o.createdAt}>{ago(o.createdAt)}</time> },
        ]}
      />
    </Section>
  );
}

function EventsBlock(props: { listen: Listen }) {
  // Numbered as they come, so equal events (same time, target and change) still get their own rows.
  const [events, setEvents] = useState<{ n: number; ev: Event }[]>([]);
  useEffect(() => {
    let n = 0;
    return props.listen((ev) => setEvents((cur) => pushEvent(cur, { n: ++n, ev }, 20)));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  return (
    <Section title="Recent events">
      <Table<{ n: number; ev: Event }>
        label="Recent events"
        rowKey={(e) => String(e.n)}
        rows={events}
        empty="No events since this page opened; they appear here as they happen."
        columns={[
          { title: 'Time', cell: ({ ev }) => <time dateTime={ev.time}>{new Date(ev.time).toLocaleTimeString()}</time> },
          { title: 'Type', cell: ({ ev }) => ev.type },
          { title: 'Target', cell: ({ ev }) => ev.target },
          { title: 'What', cell: ({ ev }) => eventSummary(ev) },
        ]}
      />
    </Section>
  );
}
