// Upload a disk image from the browser: the raw file is the body of POST /images/upload?name=NAME, sent with
// XMLHttpRequest because fetch cannot report upload progress. The daemon refuses one over its limit (413) with
// a sentence, shown here; then the panel waits for the import Operation.
import { useState } from 'preact/hooks';
import type { Operation } from '../../../src/shared/api-types.js';
import { apiUrl, csrfToken, ApiError } from '../lib/api.js';
import { message, waitOperation } from '../lib/hooks.js';
import { Button, ErrorBox, Field, Progress } from '../components/ui.js';
import { Form, type Accepted } from './res-common.js';

/** Send `file` as the image `name`; `progress(0-100)` follows the bytes sent. Resolves with the answer. */
function upload(name: string, file: File, progress: (pct: number) => void): Promise<Accepted> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', apiUrl('/images/upload', { name }));
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.setRequestHeader('accept', 'application/json');
    const token = csrfToken();
    if (token) xhr.setRequestHeader('x-csrf-token', token);
    xhr.upload.onprogress = (e) => e.lengthComputable && progress(Math.floor((e.loaded / e.total) * 100));
    xhr.onerror = () => reject(new ApiError(0, 'Unavailable', 'the upload was interrupted: is nimbod running?'));
    xhr.onload = () => {
      let json: unknown;
      try {
        json = xhr.responseText ? JSON.parse(xhr.responseText) : undefined;
      } catch {
        json = undefined;
      }
      if (xhr.status >= 200 && xhr.status < 300) return resolve(json as Accepted);
      const err = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
      reject(new ApiError(xhr.status, err?.code ?? 'Error', err?.message ?? (xhr.status === 413 ? 'the file is larger than the daemon accepts' : `the daemon answered ${xhr.status}`)));
    };
    xhr.send(file);
  });
}

/** The upload form with its progress bar (bytes sent, then the import's own progress). */
export function ImageUpload(props: { onDone: () => void }) {
  const [name, setName] = useState('');
  const [file, setFile] = useState<File>();
  const [sent, setSent] = useState<number>();
  const [op, setOp] = useState<Operation>();
  const [error, setError] = useState<string>();
  const [note, setNote] = useState<string>();
  const busy = sent !== undefined;
  const submit = async () => {
    if (!file) return setError('choose a file to upload');
    setError(undefined);
    setNote(undefined);
    setSent(0);
    try {
      const r = await upload(name.trim(), file, setSent);
      setSent(100);
      if (r?.operation) await waitOperation(r.operation, (o) => setOp({ ...o }));
      setNote(`image ${name.trim()} uploaded`);
      setName('');
    } catch (e) {
      setError(message(e));
    } finally {
      setSent(undefined);
      setOp(undefined);
      props.onDone();
    }
  };
  return (
    <Form label="Upload an image" onSubmit={() => void submit()}>
      <Field label="Image name">{(id) => <input id={id} required value={name} onInput={(e) => setName(e.currentTarget.value)} pattern="[a-z]([a-z0-9\-]{0,61}[a-z0-9])?" />}</Field>
      <Field label="Disk image file" hint="qcow2, raw, or an ISO (kept as an image of type iso)">
        {(id) => <input id={id} type="file" required onChange={(e) => setFile(e.currentTarget.files?.[0])} />}
      </Field>
      <Button kind="primary" type="submit" disabled={busy}>
        Upload
      </Button>
      {busy ? (
        <div class="op-status" aria-live="polite">
          <span class="muted">{op ? `importing: ${op.progress}%` : `sending: ${sent}%`}</span>
          <Progress value={op ? op.progress : sent} label="Upload progress" />
        </div>
      ) : null}
      {note ? <p class="muted" role="status">{note}</p> : null}
      <ErrorBox error={error} />
    </Form>
  );
}
