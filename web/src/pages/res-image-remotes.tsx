// Image remotes: other daemons' image servers this one fetches REMOTE:IMAGE from. Listed, added and removed by
// platform roles (the routes need read/write on host); a remote's images are listed and fetched into the cache.
import { useState } from 'preact/hooks';
import type { ImageRemote, ServedImage } from '../../../src/shared/image-fetch-types.js';
import { api } from '../lib/api.js';
import { useLoad } from '../lib/hooks.js';
import { can } from '../lib/session.js';
import { ago, bytes } from '../lib/format.js';
import { Button, ErrorBox, Field, Section, Table } from '../components/ui.js';
import { ConfirmButton, Form, OpStatus, enc, useOp, when } from './res-common.js';

/** The image remotes section (shown to callers who may read the host). */
export function ImageRemotes(props: { reload: () => void }) {
  const write = can('write', 'host');
  const list = useLoad(() => api.get<{ remotes: ImageRemote[] }>('/image-remotes').then((r) => r.remotes), []);
  const [shown, setShown] = useState<string>();
  const op = useOp();
  const remove = (r: ImageRemote) => op.run(() => api.del(`/image-remotes/${enc(r.name)}`), () => (setShown(undefined), list.reload()));
  return (
    <Section title="Image remotes" actions={<Button onClick={list.reload}>Refresh</Button>}>
      <ErrorBox error={list.error} />
      <Table<ImageRemote>
        label="Image remotes"
        rows={list.data}
        rowKey={(r) => r.name}
        empty="No image remotes: add another daemon's image server to launch its images as REMOTE:IMAGE."
        columns={[
          { title: 'Name', cell: (r) => r.name },
          { title: 'URL', cell: (r) => r.url },
          { title: 'Token', cell: (r) => (r.token ? 'yes' : 'no') },
          { title: 'Added', cell: (r) => ago(r.createdAt) },
          {
            title: 'Actions',
            cell: (r) => (
              <span class="row-actions">
                {can('read', 'image') ? (
                  <Button onClick={() => setShown(shown === r.name ? undefined : r.name)} aria-expanded={shown === r.name}>
                    {shown === r.name ? 'Hide images' : `Images of ${r.name}`}
                  </Button>
                ) : null}
                {write ? <ConfirmButton label="Remove" disabled={op.pending} onConfirm={() => void remove(r)} /> : null}
              </span>
            ),
          },
        ]}
      />
      <OpStatus op={op.op} error={op.error} />
      {shown ? <RemoteImages remote={shown} write={write} reload={props.reload} /> : null}
      {write ? <AddRemote reload={list.reload} /> : null}
    </Section>
  );
}

function RemoteImages(props: { remote: string; write: boolean; reload: () => void }) {
  const list = useLoad(() => api.get<{ images: ServedImage[] }>(`/image-remotes/${enc(props.remote)}/images`).then((r) => r.images), [props.remote]);
  const op = useOp();
  const fetchOne = (i: ServedImage) => op.run(() => api.post(`/image-remotes/${enc(props.remote)}/images/${enc(i.name)}/fetch`), props.reload);
  return (
    <>
      <h3>Images of {props.remote}</h3>
      <ErrorBox error={list.error} />
      <Table<ServedImage>
        label={`Images of ${props.remote}`}
        rows={list.error ? [] : list.data}
        rowKey={(i) => i.name}
        empty="It serves no images."
        columns={[
          { title: 'Launch as', cell: (i) => `${props.remote}:${i.name}` },
          { title: 'Type', cell: (i) => i.type },
          { title: 'Arch', cell: (i) => i.arch ?? '—' },
          { title: 'OS', cell: (i) => i.os || '—' },
          { title: 'Size', cell: (i) => bytes(i.size), class: 'num' },
          { title: 'Updated', cell: (i) => ago(i.updated) },
          ...when<ServedImage>(props.write, { title: 'Actions', cell: (i) => <Button disabled={op.pending} onClick={() => void fetchOne(i)}>Fetch {i.name}</Button> }),
        ]}
      />
      <OpStatus op={op.op} error={op.error} label="fetch" />
    </>
  );
}

function AddRemote(props: { reload: () => void }) {
  const [f, setF] = useState({ name: '', url: '', token: '' });
  const op = useOp();
  const set = (patch: Partial<typeof f>) => setF({ ...f, ...patch });
  const add = () =>
    void op.run(
      () => api.post('/image-remotes', { name: f.name.trim(), url: f.url.trim(), ...(f.token.trim() ? { token: f.token.trim() } : {}) }),
      props.reload,
    ).then((ok) => ok && setF({ name: '', url: '', token: '' }));
  return (
    <>
      <h3>Add a remote</h3>
      <Form label="Add an image remote" onSubmit={add}>
        <Field label="Remote name">{(id) => <input id={id} required value={f.name} pattern="[a-z]([a-z0-9\-]{0,61}[a-z0-9])?" onInput={(e) => set({ name: e.currentTarget.value })} />}</Field>
        <Field label="Remote URL" hint="the other daemon's API, e.g. https://host:8443">
          {(id) => <input id={id} type="url" required value={f.url} onInput={(e) => set({ url: e.currentTarget.value })} />}
        </Field>
        <Field label="Remote token" hint="optional: a bearer token with read access to its images">
          {(id) => <input id={id} type="password" autoComplete="off" value={f.token} onInput={(e) => set({ token: e.currentTarget.value })} />}
        </Field>
        <Button kind="primary" type="submit" disabled={op.pending}>
          Add remote
        </Button>
      </Form>
      <OpStatus op={op.op} error={op.error} />
    </>
  );
}
