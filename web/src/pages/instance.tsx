// One instance: heading, state, power actions, and tabs (overview, consoles, graphs, snapshots, backups, volumes,
// network, firewall, activity). Live: instance events of this instance reload it.
import { useEffect, useState } from 'preact/hooks';
import type { Instance } from '../../../src/shared/api-types.js';
import { api } from '../lib/api.js';
import { onEvent } from '../lib/events.js';
import { useInterval, useLoad } from '../lib/hooks.js';
import { href } from '../lib/router.js';
import { can, project } from '../lib/session.js';
import { Badge, ErrorBox, Loading, Page } from '../components/ui.js';
import { deletingNow, PowerActions } from '../components/instance-power.js';
import { isNotFound } from '../components/instance-op.js';
import { InstanceOverview } from '../components/instance-overview.js';
import { ConsoleTab, GraphsTab, VgaTab } from '../components/instance-lazy.js';
import { SnapshotsTab } from '../components/instance-snapshots.js';
import { BackupsTab } from '../components/instance-backups.js';
import { VolumesTab } from '../components/instance-volumes.js';
import { NetworkTab } from '../components/instance-network.js';
import { FirewallTab } from '../components/instance-firewall.js';
import { ActivityTab } from '../components/instance-activity.js';

type Tab = 'Overview' | 'Console' | 'VGA' | 'Graphs' | 'Snapshots' | 'Backups' | 'Volumes' | 'Network' | 'Firewall' | 'Activity';

/** The tabs `inst` has for this caller (VGA: VMs only; the rest by the routes the caller may read). */
function tabsOf(inst: Instance): Tab[] {
  const t: Tab[] = ['Overview', 'Console'];
  if (inst.type === 'vm') t.push('VGA');
  t.push('Graphs');
  if (can('read', 'snapshot')) t.push('Snapshots');
  if (can('read', 'backup')) t.push('Backups');
  if (can('read', 'volume')) t.push('Volumes');
  t.push('Network');
  if (can('read', 'secgroup')) t.push('Firewall');
  t.push('Activity');
  return t;
}

/** Instance. */
export function InstancePage(props: { params: Record<string, string> }) {
  const name = props.params.name!;
  // null: it is gone (404, or a "deleted" event): the page stops asking (each 404 is a console error).
  const [gone, setGone] = useState(false);
  const inst = useLoad(() => api.get<Instance>(`/instances/${encodeURIComponent(name)}`).catch((e: unknown) => (isNotFound(e) ? (setGone(true), null) : Promise.reject(e))), [name]);
  const [tab, setTab] = useState<Tab>('Overview');
  useEffect(() => {
    setGone(false);
    deletingNow.delete(name);
    if (!can('read', 'event')) return undefined;
    return onEvent((ev) => {
      if (ev.type !== 'instance' || ev.target !== name || deletingNow.has(name)) return;
      if ((ev.data as { state?: string } | undefined)?.state === 'deleted') setGone(true);
      else {
        setGone(false);
        inst.reload();
      }
    });
  }, [name, inst.reload]);
  useInterval(() => !gone && !deletingNow.has(name) && inst.reload(), 10_000);

  const i = inst.data;
  if (gone || !i) {
    return (
      <Page title={name}>
        {gone || inst.error ? (
          <>
            <ErrorBox error={gone ? `there is no instance ${name} in project ${project.value} (any more)` : inst.error} />
            <p>
              <a href={href('/instances')}>Back to the instances</a>
            </p>
          </>
        ) : (
          <Loading />
        )}
      </Page>
    );
  }
  const tabs = tabsOf(i);
  const current = tabs.includes(tab) ? tab : 'Overview';
  return (
    <Page
      title={i.name}
      actions={
        <>
          <Badge state={i.state} />
          {can('write', 'instance') ? <PowerActions inst={i} reload={inst.reload} /> : null}
        </>
      }
    >
      {inst.error ? <ErrorBox error={inst.error} /> : null}
      {i.error ? <p class="error">{i.error}</p> : null}
      <div class="tabs" role="tablist" aria-label="Instance">
        {tabs.map((t) => (
          <button type="button" role="tab" id={`tab-${t}`} aria-selected={t === current} aria-controls="tab-panel" tabIndex={t === current ? 0 : -1} onClick={() => setTab(t)} onKeyDown={(e) => keyNav(e, tabs, t, setTab)}>
            {t}
          </button>
        ))}
      </div>
      <div role="tabpanel" id="tab-panel" aria-labelledby={`tab-${current}`}>
        <TabBody tab={current} inst={i} reload={inst.reload} />
      </div>
    </Page>
  );
}

function TabBody(props: { tab: Tab; inst: Instance; reload: () => void }) {
  const { inst, reload } = props;
  switch (props.tab) {
    case 'Overview':
      return <InstanceOverview inst={inst} reload={reload} />;
    case 'Console':
      return <ConsoleTab inst={inst} />;
    case 'VGA':
      return <VgaTab inst={inst} />;
    case 'Graphs':
      return <GraphsTab inst={inst} />;
    case 'Snapshots':
      return <SnapshotsTab inst={inst} reload={reload} />;
    case 'Backups':
      return <BackupsTab inst={inst} reload={reload} />;
    case 'Volumes':
      return <VolumesTab inst={inst} />;
    case 'Network':
      return <NetworkTab inst={inst} reload={reload} />;
    case 'Firewall':
      return <FirewallTab inst={inst} reload={reload} />;
    case 'Activity':
      return <ActivityTab inst={inst} />;
  }
}

/** Arrow keys move between tabs (the WAI-ARIA tabs pattern). */
function keyNav(e: KeyboardEvent, tabs: Tab[], t: Tab, set: (t: Tab) => void): void {
  const d = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
  if (!d) return;
  const next = tabs[(tabs.indexOf(t) + d + tabs.length) % tabs.length]!;
  set(next);
  document.getElementById(`tab-${next}`)?.focus();
}

