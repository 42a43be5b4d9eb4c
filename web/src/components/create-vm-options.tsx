// The create wizard's VM-only fields: architecture, firmware (BIOS/UEFI), Secure Boot (UEFI only), TPM 2.0, install from an ISO
// image, and hot-add room (max CPUs / max memory) for live resizes.
import type { CreateForm } from '../lib/instance-view.js';
import { ARCHES } from '../lib/vm-facts.js';
import { Field, Section } from './ui.js';

/** The VM options of the wizard's form `f`; `set` patches it. */
export function VmOptions(props: { f: CreateForm; set: (patch: Partial<CreateForm>) => void }) {
  const { f, set } = props;
  const uefi = f.firmware === 'uefi';
  return (
    <Section title="Firmware and install">
      <div class="inline">
        <Field label="Architecture" hint="another than the host's runs emulated (slow)">
          {(id) => (
            <select id={id} value={f.arch ?? ''} onChange={(e) => set({ arch: e.currentTarget.value as CreateForm['arch'] })}>
              <option value="">the image's</option>
              {ARCHES.map((a) => (
                <option value={a}>{a}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Firmware" hint="UEFI: OVMF with its own NVRAM">
          {(id) => (
            <select id={id} value={f.firmware ?? 'bios'} onChange={(e) => set({ firmware: e.currentTarget.value as 'bios' | 'uefi', ...(e.currentTarget.value === 'uefi' ? {} : { secureBoot: false }) })}>
              <option value="bios">BIOS</option>
              <option value="uefi">UEFI</option>
            </select>
          )}
        </Field>
        <label class="check">
          <input type="checkbox" checked={uefi && f.secureBoot === true} disabled={!uefi} onChange={(e) => set({ secureBoot: e.currentTarget.checked })} /> Secure Boot
        </label>
        <label class="check">
          <input type="checkbox" checked={f.tpm === true} onChange={(e) => set({ tpm: e.currentTarget.checked })} /> TPM 2.0
        </label>
        <label class="check">
          <input type="checkbox" checked={f.iso === true} onChange={(e) => set({ iso: e.currentTarget.checked, image: '' })} /> Install from an ISO image
        </label>
      </div>
      <div class="inline">
        <Field label="Max CPUs" hint="hot-add room for live resizes; empty: none">
          {(id) => <input id={id} type="number" min={1} max={64} value={f.maxCpus ?? ''} onInput={(e) => set({ maxCpus: e.currentTarget.value })} />}
        </Field>
        <Field label="Max memory" hint="MiB, or with a unit: 2GiB; empty: none">
          {(id) => <input id={id} value={f.maxMemory ?? ''} onInput={(e) => set({ maxMemory: e.currentTarget.value })} />}
        </Field>
      </div>
      {f.iso ? <p class="muted">An install from ISO boots the ISO from a CD-ROM drive with an empty disk of the size above (default 8 GiB): no SSH key or user-data. Eject the ISO from the instance page when the install is done.</p> : null}
    </Section>
  );
}
