// Where a security group applies: its instance NICs (INSTANCE/NIC), with detach, and a form to attach it.
import { useState } from 'preact/hooks';
import type { SecurityGroup } from '../../../src/shared/network-types.js';
import { api } from '../lib/api.js';
import { useAction } from '../lib/hooks.js';
import { Button, ErrorBox, Field } from '../components/ui.js';
import { Form, enc } from './res-common.js';

/** The NICs group `group` is attached to; `write`: detach and attach forms. */
export function SecGroupAttach(props: { group: SecurityGroup; write: boolean; reload: () => void }) {
  const g = props.group;
  const [instance, setInstance] = useState('');
  const [nic, setNic] = useState('');
  const act = useAction();
  const base = `/security-groups/${enc(g.name)}`;
  const detach = (at: string) => {
    const [inst, n] = at.split('/');
    return act.run(() => api.post(`${base}/detach`, { instance: inst, ...(n ? { nic: n } : {}) })).then(props.reload);
  };
  const attach = () =>
    act.run(() => api.post(`${base}/attach`, { instance: instance.trim(), ...(nic.trim() ? { nic: nic.trim() } : {}) })).then((ok) => {
      if (ok) (setInstance(''), setNic(''));
      props.reload();
    });
  return (
    <div class="attached">
      <p>
        <strong>Attached to:</strong>{' '}
        {g.attachedTo.length === 0 ? <span class="muted">no instance</span> : null}
      </p>
      {g.attachedTo.length ? (
        <ul aria-label={`NICs with ${g.name}`}>
          {g.attachedTo.map((at) => (
            <li key={at}>
              <a href={`#/instances/${enc(at.split('/')[0]!)}`}>{at}</a>{' '}
              {props.write ? (
                <Button disabled={act.pending} onClick={() => void detach(at)} aria-label={`Detach ${g.name} from ${at}`}>
                  Detach
                </Button>
              ) : null}
            </li>
          ))}
        </ul>
      ) : null}
      {props.write ? (
        <Form label={`Attach ${g.name} to an instance`} onSubmit={() => void attach()}>
          <Field label="Attach to instance">{(id) => <input id={id} required value={instance} onInput={(e) => setInstance(e.currentTarget.value)} />}</Field>
          <Field label="On NIC" hint="empty: all its NICs">
            {(id) => <input id={id} value={nic} size={6} placeholder="eth0" onInput={(e) => setNic(e.currentTarget.value)} />}
          </Field>
          <Button type="submit" disabled={act.pending}>
            Attach
          </Button>
        </Form>
      ) : null}
      <ErrorBox error={act.error} />
    </div>
  );
}
