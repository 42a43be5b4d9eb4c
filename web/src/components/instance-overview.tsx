// The Overview tab: facts (firmware, CPUs/memory with their hot-add maximum, guest memory), the CD-ROM drive, and (for members and owners) resize, rebuild and rescue through the VPS actions route.
import { useState } from 'preact/hooks';
import type { Image, Instance } from '../../../src/shared/api-types.js';
import type { Plan } from '../../../src/shared/plan-types.js';
import { api, listAll } from '../lib/api.js';
import { bytes, ago } from '../lib/format.js';
import { useLoad } from '../lib/hooks.js';
import { can } from '../lib/session.js';
import { Button, Facts, Field, Section } from './ui.js';
import { OpStatus, useOp } from './instance-op.js';
import { InstanceSettings } from './instance-settings.js';
import { MediaSection } from './instance-media.js';
import { cpusText, firmwareText, guestMemoryText, memoryText, resizeNote } from '../lib/vm-facts.js';

/** Facts and maintenance actions of `inst`. */
export function InstanceOverview(props: { inst: Instance; reload: () => void }) {
  const i = props.inst;
  const write = can('write', 'instance');
  const fw = firmwareText(i);
  const guest = guestMemoryText(i);
  return (
    <>
      <Section title="Facts">
        <Facts
          items={[
            ['Type', i.type === 'vm' ? `virtual machine (${i.accelerator})` : 'container'],
            ['Image', i.image],
            ['Plan', i.plan ?? '—'],
            ...(i.arch ? ([['Architecture', i.arch]] as [string, string][]) : []),
            ...(fw ? ([['Firmware', fw]] as [string, string][]) : []),
            ['CPUs', cpusText(i)],
            ['Memory', memoryText(i)],
            ['Disk', i.disk ? bytes(i.disk) : 'no limit'],
            ['Addresses', i.addresses.join(', ') || '—'],
            ['Created', <time dateTime={i.createdAt} title={i.createdAt}>{ago(i.createdAt)}</time>],
            ['Autostart', i.autostart],
            ...(i.usage ? ([['CPU time', `${i.usage.cpuSeconds.toFixed(1)} s`], ['Memory used', bytes(i.usage.memoryBytes)], ['Processes', i.usage.pids]] as [string, string | number][]) : []),
            ...(guest ? ([['Guest memory', guest]] as [string, string][]) : []),
            ...(i.rescue ? ([['Rescue', `${i.rescue.image} since ${ago(i.rescue.since)}`]] as [string, string][]) : []),
            ...(i.description ? ([['Description', i.description]] as [string, string][]) : []),
            ...(i.labels && Object.keys(i.labels).length ? ([['Labels', Object.entries(i.labels).map(([k, v]) => `${k}=${v}`).join(', ')]] as [string, string][]) : []),
          ]}
        />
      </Section>
      {i.media !== undefined ? <MediaSection inst={i} write={write} reload={props.reload} /> : null}
      {write ? <ResizeForm inst={i} reload={props.reload} /> : null}
      {write && i.type === 'vm' ? <RebuildRescue inst={i} reload={props.reload} /> : null}
      {write ? <InstanceSettings inst={i} reload={props.reload} /> : null}
    </>
  );
}

function ResizeForm(props: { inst: Instance; reload: () => void }) {
  const i = props.inst;
  const plans = useLoad(() => (can('read', 'plan') ? listAll<Plan>('/plans', 'plans') : Promise.resolve([])), []);
  const [plan, setPlan] = useState('none');
  const [cpus, setCpus] = useState(String(i.cpus));
  const [mem, setMem] = useState(String(Math.round(i.memory / 1024 ** 2)));
  const [disk, setDisk] = useState(i.type === 'vm' && i.disk ? String(Math.round(i.disk / 1024 ** 3)) : '');
  const op = useOp();
  const submit = (e: Event) => {
    e.preventDefault();
    const body: Record<string, unknown> = { type: 'resize' };
    if (plan !== 'none') body.plan = plan;
    else {
      body.vcpus = Number(cpus);
      body.memoryMiB = Number(mem);
      if (disk.trim()) body.diskGiB = Number(disk);
    }
    void op.run(() => api.post(`/instances/${encodeURIComponent(i.name)}/actions`, body), props.reload);
  };
  const none = plan === 'none';
  return (
    <Section title="Resize">
      <p class="muted">{resizeNote(i)}</p>
      <form class="inline" onSubmit={submit}>
        <Field label="Plan">
          {(id) => (
            <select id={id} value={plan} onChange={(e) => setPlan(e.currentTarget.value)}>
              <option value="none">none</option>
              {(plans.data ?? []).map((p) => (
                <option value={p.name}>
                  {p.name} ({p.vcpus} vCPU, {p.memoryMiB} MiB, {p.diskGiB} GiB)
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="CPUs">{(id) => <input id={id} type="number" min={1} max={64} value={cpus} disabled={!none} onInput={(e) => setCpus(e.currentTarget.value)} />}</Field>
        <Field label="Memory" hint="MiB">
          {(id) => <input id={id} type="number" min={64} value={mem} disabled={!none} onInput={(e) => setMem(e.currentTarget.value)} />}
        </Field>
        {i.type === 'vm' ? (
          <Field label="Disk" hint="GiB">
            {(id) => <input id={id} type="number" min={1} value={disk} disabled={!none} onInput={(e) => setDisk(e.currentTarget.value)} />}
          </Field>
        ) : null}
        <Button kind="primary" type="submit" disabled={op.pending}>
          Resize
        </Button>
      </form>
      <OpStatus op={op} label="Resize" />
    </Section>
  );
}

function RebuildRescue(props: { inst: Instance; reload: () => void }) {
  const i = props.inst;
  const images = useLoad(() => listAll<Image>('/images', 'images'), []);
  const ready = (images.data ?? []).filter((x) => x.status === 'ready');
  const [image, setImage] = useState('');
  const [rescueImage, setRescueImage] = useState('');
  const [sure, setSure] = useState(false);
  const op = useOp();
  const post = (body: object) => () => void op.run(() => api.post(`/instances/${encodeURIComponent(i.name)}/actions`, body), props.reload);
  const img = image || ready[0]?.name || '';
  return (
    <Section title="Rebuild and rescue">
      <div class="inline">
        <Field label="Rebuild image">
          {(id) => (
            <select id={id} value={img} onChange={(e) => setImage(e.currentTarget.value)}>
              {ready.map((x) => (
                <option value={x.name}>{x.name}</option>
              ))}
            </select>
          )}
        </Field>
        {sure ? (
          <>
            <Button kind="danger" disabled={op.pending || !img} onClick={() => (setSure(false), post({ type: 'rebuild', image: img })())}>
              Confirm rebuild
            </Button>
            <Button onClick={() => setSure(false)}>Cancel</Button>
          </>
        ) : (
          <Button disabled={op.pending || !img || !!i.rescue} onClick={() => setSure(true)}>
            Rebuild
          </Button>
        )}
      </div>
      {sure ? <p class="muted">Rebuild replaces the root disk with a fresh copy of {img}: its data is lost.</p> : null}
      <div class="inline rescue">
        {i.rescue ? (
          <Button disabled={op.pending} onClick={post({ type: 'unrescue' })}>
            Leave rescue
          </Button>
        ) : (
          <>
            <Field label="Rescue image">
              {(id) => (
                <select id={id} value={rescueImage} onChange={(e) => setRescueImage(e.currentTarget.value)}>
                  <option value="">tiny (default)</option>
                  {ready.map((x) => (
                    <option value={x.name}>{x.name}</option>
                  ))}
                </select>
              )}
            </Field>
            <Button disabled={op.pending} onClick={post(rescueImage ? { type: 'rescue', image: rescueImage } : { type: 'rescue' })}>
              Enter rescue
            </Button>
          </>
        )}
      </div>
      <OpStatus op={op} label="Rebuild or rescue" />
    </Section>
  );
}
