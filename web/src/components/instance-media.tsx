// The CD-ROM drive of a VM launched to install from an ISO: what is in it, Insert (an ISO image) and Eject,
// live when it runs (POST/DELETE /instances/{name}/media answer an Operation).
import { useState } from 'preact/hooks';
import type { Image, Instance } from '../../../src/shared/api-types.js';
import { api, listAll } from '../lib/api.js';
import { useLoad } from '../lib/hooks.js';
import { wizardImages } from '../lib/instance-view.js';
import { Button, Field, Section } from './ui.js';
import { OpStatus, useOp } from './instance-op.js';

/** The CD-ROM drive of `inst` (shown only when it has one: `media` is set); buttons only for writers. */
export function MediaSection(props: { inst: Instance; write: boolean; reload: () => void }) {
  const i = props.inst;
  const isos = useLoad(() => (props.write ? listAll<Image>('/images', 'images').then((l) => wizardImages(l, true)) : Promise.resolve([])), [props.write]);
  const [image, setImage] = useState('');
  const op = useOp();
  const path = `/instances/${encodeURIComponent(i.name)}/media`;
  const pick = image || isos.data?.[0]?.name || '';
  return (
    <Section title="CD-ROM">
      <p>
        {i.media ? (
          <>
            In the drive: <strong>{i.media}</strong>
          </>
        ) : (
          'The drive is empty.'
        )}
      </p>
      {props.write ? (
        <div class="inline">
          <Field label="ISO image">
            {(id) => (
              <select id={id} value={pick} onChange={(e) => setImage(e.currentTarget.value)}>
                {(isos.data ?? []).map((x) => (
                  <option value={x.name}>{x.name}</option>
                ))}
              </select>
            )}
          </Field>
          <Button disabled={op.pending || !pick} onClick={() => void op.run(() => api.post(path, { image: pick }), props.reload)}>
            Insert
          </Button>
          <Button disabled={op.pending || !i.media} onClick={() => void op.run(() => api.del(path), props.reload)}>
            Eject
          </Button>
        </div>
      ) : null}
      <OpStatus op={op} label="Media" />
    </Section>
  );
}
