// Import an image from an http(s) URL (POST /images/import-url): the daemon downloads it, checks its sha256 (given,
// or read from a SHA256SUMS file) and imports it; the panel follows the Operation's progress.
import { useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { importUrlBody } from '../lib/vm-facts.js';
import { Button, Field, Section } from '../components/ui.js';
import { Form, OpStatus, useOp } from './res-common.js';

/** The Import-from-URL form (platform roles). */
export function ImageImportUrl(props: { reload: () => void }) {
  const [f, setF] = useState({ name: '', url: '', checksum: '' });
  const op = useOp();
  const set = (patch: Partial<typeof f>) => setF({ ...f, ...patch });
  const submit = () => void op.run(() => api.post('/images/import-url', importUrlBody(f)), props.reload).then((ok) => ok && setF({ name: '', url: '', checksum: '' }));
  return (
    <Section title="Import from URL">
      <Form label="Import an image from a URL" onSubmit={submit}>
        <Field label="Name of the new image">{(id) => <input id={id} required value={f.name} pattern="[a-z]([a-z0-9\-]{0,61}[a-z0-9])?" onInput={(e) => set({ name: e.currentTarget.value })} />}</Field>
        <Field label="Image URL" hint="http(s):// a qcow2, raw or ISO file">
          {(id) => <input id={id} type="url" required value={f.url} placeholder="https://example.org/disk.qcow2" onInput={(e) => set({ url: e.currentTarget.value })} />}
        </Field>
        <Field label="Checksum" hint="its sha256 (64 hex digits), or the URL of a SHA256SUMS file">
          {(id) => <input id={id} value={f.checksum} onInput={(e) => set({ checksum: e.currentTarget.value })} />}
        </Field>
        <Button kind="primary" type="submit" disabled={op.pending}>
          Import from URL
        </Button>
      </Form>
      <OpStatus op={op.op} error={op.error} label="import" />
    </Section>
  );
}
