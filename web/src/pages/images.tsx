// Images: the public images and the project's private ones (with their type); build, import from the host or a URL
// and upload as public images, image remotes (platform roles); delete (public: platform roles; private: the project's writers).
import { useState } from 'preact/hooks';
import type { Image } from '../../../src/shared/api-types.js';
import { api, listAll } from '../lib/api.js';
import { useInterval, useLoad } from '../lib/hooks.js';
import { can, project } from '../lib/session.js';
import { bytes, ago } from '../lib/format.js';
import { Badge, Button, ErrorBox, Field, Page, Section, Table } from '../components/ui.js';
import { ConfirmButton, Form, OpStatus, enc, useOp, when } from './res-common.js';
import { ImageUpload } from './res-image-upload.js';
import { ImageImportUrl } from './res-image-url.js';
import { ImageRemotes } from './res-image-remotes.js';
import { imageType } from '../lib/vm-facts.js';

/** Images. */
export function ImagesPage(_props: { params: Record<string, string> }) {
  // An operator without a role in the project builds and imports public images but may not list the project's.
  const see = can('read', 'image');
  const list = useLoad(() => (see ? listAll<Image>('/images', 'images') : Promise.resolve([])), [see]);
  const op = useOp();
  // An image another session builds or imports turns ready without an event here: look again while one is building.
  useInterval(() => list.data?.some((i) => i.status === 'building') && list.reload(), 3000);
  const host = can('write', 'host');
  const mayDelete = (i: Image) => (i.visibility === 'public' ? host : can('write', 'image'));
  const remove = (i: Image) => op.run(() => api.del(i.visibility === 'public' ? `/images/${enc(i.name)}` : `/images/private/${enc(i.name)}`), list.reload);
  return (
    <Page title="Images">
      <Section title="Images" actions={<Button onClick={list.reload}>Refresh</Button>}>
        <ErrorBox error={list.error} />
        <OpStatus op={op.op} error={op.error} />
        {see ? null : <p class="muted">Your role does not list the images of project {project.value}.</p>}
        <Table<Image>
          label="Images"
          rows={list.data}
          rowKey={(i) => `${i.visibility}:${i.name}`}
          empty="No images yet."
          columns={[
            { title: 'Name', cell: (i) => i.name },
            { title: 'Visibility', cell: (i) => i.visibility },
            { title: 'Status', cell: (i) => <Badge state={i.status} /> },
            { title: 'Type', cell: (i) => imageType(i) },
            { title: 'Arch', cell: (i) => i.arch ?? '—' },
            { title: 'OS', cell: (i) => i.os || '—' },
            { title: 'Format', cell: (i) => i.format },
            { title: 'Boot', cell: (i) => i.boot },
            { title: 'Size', cell: (i) => bytes(i.size), class: 'num' },
            { title: 'Source', cell: (i) => i.source },
            { title: 'Created', cell: (i) => ago(i.createdAt) },
            ...when<Image>(host || can('write', 'image'), { title: 'Actions', cell: (i) => (mayDelete(i) ? <ConfirmButton disabled={op.pending} onConfirm={() => void remove(i)} /> : null) }),
          ]}
        />
      </Section>
      {host ? <BuildImport reload={list.reload} /> : null}
      {host ? <ImageImportUrl reload={list.reload} /> : null}
      {host ? (
        <Section title="Upload from this computer">
          <ImageUpload onDone={list.reload} />
        </Section>
      ) : null}
      {can('read', 'host') ? <ImageRemotes reload={list.reload} /> : null}
    </Page>
  );
}

const BUILDERS = ['tiny', 'debian-12', 'tiny-aarch64', 'tiny-riscv64'] as const;
type Builder = (typeof BUILDERS)[number];

function BuildImport(props: { reload: () => void }) {
  const [name, setName] = useState('');
  const [builder, setBuilder] = useState<Builder>('tiny');
  const [iname, setIname] = useState('');
  const [path, setPath] = useState('');
  const build = useOp();
  const imp = useOp();
  return (
    <>
      <Section title="Build a built-in image">
        <Form label="Build an image" onSubmit={() => void build.run(() => api.post('/images', { name: name.trim(), builder }), props.reload)}>
          <Field label="Name">{(id) => <input id={id} required value={name} onInput={(e) => setName(e.currentTarget.value)} />}</Field>
          <Field label="Builder">
            {(id) => (
              <select id={id} value={builder} onChange={(e) => setBuilder(e.currentTarget.value as Builder)}>
                {BUILDERS.map((b) => (
                  <option value={b}>{b}</option>
                ))}
              </select>
            )}
          </Field>
          <Button kind="primary" type="submit" disabled={build.pending}>
            Build
          </Button>
        </Form>
        <OpStatus op={build.op} error={build.error} label="build" />
      </Section>
      <Section title="Import from the host">
        <Form label="Import an image" onSubmit={() => void imp.run(() => api.post('/images/import', { name: iname.trim(), path: path.trim() }), props.reload)}>
          <Field label="Imported image name">{(id) => <input id={id} required value={iname} onInput={(e) => setIname(e.currentTarget.value)} />}</Field>
          <Field label="Path on the host" hint="a qcow2, raw or ISO file">
            {(id) => <input id={id} required value={path} placeholder="/var/lib/images/disk.qcow2" onInput={(e) => setPath(e.currentTarget.value)} />}
          </Field>
          <Button kind="primary" type="submit" disabled={imp.pending}>
            Import
          </Button>
        </Form>
        <OpStatus op={imp.op} error={imp.error} label="import" />
      </Section>
    </>
  );
}
