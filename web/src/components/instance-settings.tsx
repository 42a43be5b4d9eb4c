// Settings of an instance for members and owners: rename, description, autostart (PATCH /instances/{name}),
// SSH keys and root's password (the VPS actions ssh_keys and password_reset).
import { useState } from 'preact/hooks';
import type { Instance } from '../../../src/shared/api-types.js';
import { api } from '../lib/api.js';
import { navigate } from '../lib/router.js';
import { Button, Field, Section } from './ui.js';
import { OpStatus, useOp } from './instance-op.js';

/** Rename, description, autostart, SSH keys and password of `inst`. */
export function InstanceSettings(props: { inst: Instance; reload: () => void }) {
  const i = props.inst;
  const path = `/instances/${encodeURIComponent(i.name)}`;
  const op = useOp();
  const [name, setName] = useState(i.name);
  const [description, setDescription] = useState(i.description);
  const [autostart, setAutostart] = useState(i.autostart);
  const [keys, setKeys] = useState('');
  const [password, setPassword] = useState('');
  const save = (e: Event) => {
    e.preventDefault();
    const body: Record<string, unknown> = {};
    if (description !== i.description) body.description = description;
    if (autostart !== i.autostart) body.autostart = autostart;
    const to = name.trim();
    if (to && to !== i.name) body.name = to;
    void op.run(
      () => api.patch(path, body),
      () => (body.name ? navigate(`/instances/${encodeURIComponent(to)}`) : props.reload()),
    );
  };
  const action = (body: object, after?: () => void) => void op.run(() => api.post(`${path}/actions`, body), after);
  return (
    <Section title="Settings and access">
      <form onSubmit={save}>
        <div class="inline">
          <Field label="Instance name" hint="renaming keeps its addresses, disks and snapshots">
            {(id) => <input id={id} value={name} onInput={(e) => setName(e.currentTarget.value)} />}
          </Field>
          <Field label="Autostart" hint="after a host reboot">
            {(id) => (
              <select id={id} value={autostart} onChange={(e) => setAutostart(e.currentTarget.value as Instance['autostart'])}>
                <option value="last-state">last state</option>
                <option value="always">always</option>
                <option value="never">never</option>
              </select>
            )}
          </Field>
        </div>
        <Field label="Description">{(id) => <textarea id={id} rows={2} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />}</Field>
        <Button type="submit" class="save-settings" disabled={op.pending}>
          Save settings
        </Button>
      </form>
      <form class="inline settings-access" onSubmit={(e) => (e.preventDefault(), action({ type: 'ssh_keys', keys: keys.split('\n').map((k) => k.trim()).filter(Boolean) }, () => setKeys('')))}>
        <Field label="Authorized SSH keys" hint="one a line; they replace the instance's keys">
          {(id) => <textarea id={id} rows={2} cols={60} value={keys} onInput={(e) => setKeys(e.currentTarget.value)} />}
        </Field>
        <Button type="submit" disabled={op.pending || !keys.trim()}>
          Replace SSH keys
        </Button>
      </form>
      <form class="inline settings-access" onSubmit={(e) => (e.preventDefault(), action({ type: 'password_reset', password }, () => setPassword('')))}>
        {/* the account the password is for, for password managers (hidden) */}
        <input type="text" name="username" autoComplete="username" value="root" readOnly hidden />
        <Field label="New root password" hint="at least 8 characters; applies at the next boot">
          {(id) => <input id={id} type="password" autoComplete="new-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />}
        </Field>
        <Button type="submit" disabled={op.pending || password.length < 8}>
          Reset password
        </Button>
      </form>
      <OpStatus op={op} label="Settings" />
    </Section>
  );
}
