// Add one rule to a security group: direction, protocol, ports, source (or destination for egress).
import { useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { useAction } from '../lib/hooks.js';
import { Button, ErrorBox, Field } from '../components/ui.js';
import { Form, enc } from './res-common.js';
import { ruleBody } from '../lib/res-values.js';

/** The "add a rule" form of group `group`. */
export function RuleAdd(props: { group: string; reload: () => void }) {
  const [r, setR] = useState({ direction: 'ingress', protocol: 'tcp', ports: '', peer: '', description: '' });
  const act = useAction();
  const set = (k: keyof typeof r) => (e: { currentTarget: { value: string } }) => setR({ ...r, [k]: e.currentTarget.value });
  const submit = () => {
    return act.run(() => api.post(`/security-groups/${enc(props.group)}/rules`, { rules: [ruleBody(r)] })).then((ok) => {
      if (ok) setR({ ...r, ports: '', peer: '', description: '' });
      props.reload();
    });
  };
  const peer = r.direction === 'ingress' ? 'Source' : 'Destination';
  return (
    <>
      <Form label={`Add a rule to ${props.group}`} onSubmit={() => void submit()} class="inline rule-add">
        <Field label="Direction">
          {(id) => (
            <select id={id} value={r.direction} onChange={set('direction')}>
              <option value="ingress">ingress</option>
              <option value="egress">egress</option>
            </select>
          )}
        </Field>
        <Field label="Protocol">
          {(id) => (
            <select id={id} value={r.protocol} onChange={set('protocol')}>
              <option value="tcp">tcp</option>
              <option value="udp">udp</option>
              <option value="icmp">icmp</option>
              <option value="any">any</option>
            </select>
          )}
        </Field>
        <Field label="Ports" hint="22 or 8000-8100">
          {(id) => <input id={id} value={r.ports} size={10} disabled={r.protocol === 'icmp' || r.protocol === 'any'} onInput={set('ports')} />}
        </Field>
        <Field label={peer} hint="CIDR or group:NAME; empty: any">
          {(id) => <input id={id} value={r.peer} placeholder="0.0.0.0/0" onInput={set('peer')} />}
        </Field>
        <Field label="Rule description">{(id) => <input id={id} value={r.description} onInput={set('description')} />}</Field>
        <Button type="submit" disabled={act.pending}>
          Add rule
        </Button>
      </Form>
      <ErrorBox error={act.error} />
    </>
  );
}
