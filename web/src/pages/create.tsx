// The create wizard: VM or container, plan or sizes, VM firmware/TPM/hot-add room/ISO install, image, SSH key,
// network, security groups, user-data, name.
// POST /instances answers 202 + Operation: the page follows it and opens the new instance when it ends.
import { useState } from 'preact/hooks';
import type { Image, Operation } from '../../../src/shared/api-types.js';
import type { Plan } from '../../../src/shared/plan-types.js';
import type { Network, SecurityGroup } from '../../../src/shared/network-types.js';
import { api, listAll } from '../lib/api.js';
import { useAction, useLoad, waitOperation } from '../lib/hooks.js';
import { navigate } from '../lib/router.js';
import { can } from '../lib/session.js';
import { createBody, wizardImages, type CreateForm } from '../lib/instance-view.js';
import { Button, ErrorBox, Field, Page, Progress, Section } from '../components/ui.js';
import { VmOptions } from '../components/create-vm-options.js';
import { templateNote } from '../lib/vm-facts.js';

const EMPTY: CreateForm = { name: '', type: 'vm', image: '', plan: 'none', cpus: '1', memory: '256', disk: '', sshKey: '', network: '', securityGroups: [], userData: '' };

/** Create an instance. */
export function CreatePage(_props: { params: Record<string, string> }) {
  const [f, setF] = useState<CreateForm>(EMPTY);
  const [op, setOp] = useState<Operation>();
  const act = useAction();
  const images = useLoad(() => listAll<Image>('/images', 'images'), []);
  const plans = useLoad(() => (can('read', 'plan') ? listAll<Plan>('/plans', 'plans') : Promise.resolve([])), []);
  const networks = useLoad(() => (can('read', 'network') ? listAll<Network>('/networks', 'networks') : Promise.resolve([])), []);
  const groups = useLoad(() => (can('read', 'secgroup') ? listAll<SecurityGroup>('/security-groups', 'securityGroups') : Promise.resolve([])), []);
  const set = (patch: Partial<CreateForm>) => setF({ ...f, ...patch });
  const iso = f.type === 'vm' && f.iso === true;
  const ready = wizardImages(images.data ?? [], iso);
  const noPlan = f.plan === 'none';
  const plan = plans.data?.find((p) => p.name === f.plan);

  const submit = (e: Event) => {
    e.preventDefault();
    void act.run(async () => {
      const body = createBody({ ...f, image: f.image || ready[0]?.name || '' });
      const r = await api.post<{ operation: Operation }>('/instances', body);
      setOp(r.operation);
      await waitOperation(r.operation, setOp);
      navigate(`/instances/${encodeURIComponent(body.name)}`);
    });
  };

  return (
    <Page title="Create an instance">
      <ErrorBox error={images.error ?? plans.error ?? networks.error ?? groups.error} />
      <form onSubmit={submit} class="create-form">
        <Section title="Kind and size">
          <fieldset class="radios" role="radiogroup" aria-label="Type">
            <legend>Type</legend>
            {(
              [
                ['vm', 'Virtual machine'],
                ['container', 'Container'],
              ] as const
            ).map(([v, label]) => (
              <label>
                <input type="radio" name="type" value={v} checked={f.type === v} onChange={() => set({ type: v })} /> {label}
              </label>
            ))}
          </fieldset>
          <Field label="Plan" hint={plan ? `${plan.vcpus} vCPU, ${plan.memoryMiB} MiB, ${plan.diskGiB} GiB, ${plan.class}${plan.pricePerHour !== '0' ? `, ${plan.pricePerHour}/h` : ''}` : 'none: choose CPUs, memory and disk below'}>
            {(id) => (
              <select id={id} value={f.plan} onChange={(e) => set({ plan: e.currentTarget.value })}>
                <option value="none">none</option>
                {(plans.data ?? []).map((p) => (
                  <option value={p.name}>{p.name}</option>
                ))}
              </select>
            )}
          </Field>
          <div class="inline">
            <Field label="CPUs">{(id) => <input id={id} type="number" min={1} max={64} value={noPlan ? f.cpus : String(plan?.vcpus ?? '')} disabled={!noPlan} onInput={(e) => set({ cpus: e.currentTarget.value })} />}</Field>
            <Field label="Memory" hint="MiB, or with a unit: 1GiB">
              {(id) => <input id={id} value={noPlan ? f.memory : `${plan?.memoryMiB ?? ''}MiB`} disabled={!noPlan} onInput={(e) => set({ memory: e.currentTarget.value })} />}
            </Field>
            <Field label="Disk" hint={f.type === 'container' ? 'GiB: a quota on what it writes; empty: no limit' : iso ? 'GiB: the empty disk to install on; empty: 8 GiB' : "GiB, or with a unit; empty: the image's size"}>
              {(id) => <input id={id} value={noPlan ? f.disk : `${plan?.diskGiB ?? ''}GiB`} disabled={!noPlan} onInput={(e) => set({ disk: e.currentTarget.value })} />}
            </Field>
          </div>
        </Section>
        {f.type === 'vm' ? <VmOptions f={f} set={set} /> : null}
        <Section title="System">
          <Field label="Name" hint="a DNS label: lower-case letters, digits and dashes">
            {(id) => <input id={id} required value={f.name} pattern="[a-z]([a-z0-9\-]{0,61}[a-z0-9])?" onInput={(e) => set({ name: e.currentTarget.value })} />}
          </Field>
          <Field label="Image" hint={iso ? 'an ISO image (type iso) booted from the CD-ROM drive' : templateNote(ready.find((i) => i.name === (f.image || ready[0]?.name)))}>
            {(id) => (
              <select id={id} value={f.image || ready[0]?.name || ''} onChange={(e) => set({ image: e.currentTarget.value })}>
                {ready.map((i) => (
                  <option value={i.name}>
                    {i.name} ({i.os}
                    {i.arch ? `, ${i.arch}` : ''}
                    {i.visibility === 'private' ? ', private' : ''})
                  </option>
                ))}
              </select>
            )}
          </Field>
          {iso ? null : (
            <>
              <Field label="SSH public key" hint="one key a line (ssh-ed25519 AAAA… user@host)">
                {(id) => <textarea id={id} rows={3} value={f.sshKey} onInput={(e) => set({ sshKey: e.currentTarget.value })} />}
              </Field>
              <Field label="User data" hint="cloud-init: #cloud-config, a #! script or MIME multipart (at most 64 KiB)">
                {(id) => <textarea id={id} rows={5} value={f.userData} onInput={(e) => set({ userData: e.currentTarget.value })} />}
              </Field>
            </>
          )}
        </Section>
        <Section title="Network">
          <div class="inline">
            <Field label="Network">
              {(id) => (
                <select id={id} value={f.network} onChange={(e) => set({ network: e.currentTarget.value })}>
                  <option value="">default</option>
                  {(networks.data ?? [])
                    .filter((n) => n.name !== 'default')
                    .map((n) => (
                      <option value={n.name}>
                        {n.name} ({n.subnet})
                      </option>
                    ))}
                </select>
              )}
            </Field>
            <Field label="Security groups" hint="Ctrl-click to choose several">
              {(id) => (
                <select id={id} multiple size={Math.min(5, Math.max(2, groups.data?.length ?? 2))} onChange={(e) => set({ securityGroups: [...e.currentTarget.selectedOptions].map((o) => o.value) })}>
                  {(groups.data ?? []).map((g) => (
                    <option value={g.name} selected={f.securityGroups.includes(g.name)}>
                      {g.name}
                    </option>
                  ))}
                </select>
              )}
            </Field>
          </div>
        </Section>
        {images.data && !ready.length ? <p class="error">No {iso ? 'ISO ' : ''}image is ready yet{can('write', 'host') ? ': build or import one on the Images page.' : ': ask an administrator for one.'}</p> : null}
        <ErrorBox error={act.error} />
        {op && act.pending ? (
          <div aria-live="polite">
            <Progress value={op.progress} label="Launch progress" />
            <p class="muted">{op.log[op.log.length - 1] ?? op.status}</p>
          </div>
        ) : null}
        <Button kind="primary" type="submit" disabled={act.pending || !ready.length}>
          Launch
        </Button>
      </form>
    </Page>
  );
}
