// Create a plan (POST /plans) or change one (PATCH /plans/{name}: only the fields that changed).
import { useState } from 'preact/hooks';
import type { Plan } from '../../../src/shared/plan-types.js';
import { api } from '../lib/api.js';
import { useAction } from '../lib/hooks.js';
import { Button, ErrorBox, Field } from '../components/ui.js';
import { Form, enc } from './res-common.js';
import { changed } from '../lib/res-values.js';

const NUMS: [keyof Plan & string, string, string][] = [
  ['vcpus', 'vCPUs', '1'],
  ['memoryMiB', 'Memory (MiB)', '1024'],
  ['diskGiB', 'Disk (GiB)', '10'],
  ['transferGiBPerMonth', 'Transfer (GiB per month)', '0'],
  ['cpuWeight', 'CPU weight', '100'],
];

/** The plan form; `plan` given: edit it. */
export function PlanForm(props: { plan?: Plan; done: () => void }) {
  const p = props.plan;
  const init: Record<string, string> = {
    name: p?.name ?? '',
    class: p?.class ?? 'shared',
    pricePerHour: p?.pricePerHour ?? '0',
    description: p?.description ?? '',
    ...Object.fromEntries(NUMS.map(([k, , d]) => [k, p ? String(p[k]) : d])),
  };
  const [f, setF] = useState(init);
  const act = useAction();
  const set = (k: string) => (e: { currentTarget: { value: string } }) => setF({ ...f, [k]: e.currentTarget.value });
  const submit = () => {
    // A change sends only what changed; a new plan sends every field that is filled in.
    const body = changed(p ? init : {}, f, NUMS.map(([k]) => k));
    return act.run(() => (p ? api.patch(`/plans/${enc(p.name)}`, body) : api.post('/plans', body))).then((ok) => ok && props.done());
  };
  return (
    <>
      <Form label={p ? `Edit plan ${p.name}` : 'Create a plan'} onSubmit={() => void submit()}>
        <Field label="Plan name">{(id) => <input id={id} required readOnly={!!p} value={f.name} onInput={set('name')} />}</Field>
        <Field label="Class">
          {(id) => (
            <select id={id} value={f.class} onChange={set('class')}>
              <option value="shared">shared</option>
              <option value="dedicated">dedicated</option>
            </select>
          )}
        </Field>
        {NUMS.map(([k, label]) => (
          <Field label={label}>{(id) => <input id={id} type="number" min={0} required={k === 'vcpus' || k === 'memoryMiB' || k === 'diskGiB'} value={f[k]} size={6} onInput={set(k)} />}</Field>
        ))}
        <Field label="Price per hour">{(id) => <input id={id} value={f.pricePerHour} size={8} onInput={set('pricePerHour')} />}</Field>
        <Field label="Plan description">{(id) => <input id={id} value={f.description} onInput={set('description')} />}</Field>
        <Button kind="primary" type="submit" disabled={act.pending}>
          {p ? 'Save plan' : 'Create plan'}
        </Button>
        {p ? <Button onClick={props.done}>Cancel</Button> : null}
      </Form>
      <ErrorBox error={act.error} />
    </>
  );
}
