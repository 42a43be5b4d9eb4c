// Power actions of an instance: start, stop, restart, pause/resume, delete (with a confirmation).
import { useState } from 'preact/hooks';
import type { Instance } from '../../../src/shared/api-types.js';
import { api } from '../lib/api.js';
import { navigate } from '../lib/router.js';
import { Button } from './ui.js';
import { OpStatus, useOp } from './instance-op.js';

/** Instances whose delete this tab started: their page stops reloading them (each 404 would be a console error). */
export const deletingNow = new Set<string>();

/** The power buttons of `inst` (the caller may change instances). */
export function PowerActions(props: { inst: Instance; reload: () => void }) {
  const { inst, reload } = props;
  const op = useOp();
  const [confirm, setConfirm] = useState(false);
  const path = `/instances/${encodeURIComponent(inst.name)}`;
  const s = inst.state;
  const on = s === 'running' || s === 'rescue';
  const act = (action: string, body: object = {}) => () => void op.run(() => api.post(`${path}/${action}`, body), reload);
  return (
    <div class="power">
      <div class="power-buttons">
        <Button onClick={act('start')} disabled={op.pending || s !== 'stopped'}>
          Start
        </Button>
        <Button onClick={act('stop')} disabled={op.pending || !(on || s === 'paused' || s === 'error' || s === 'starting')}>
          Stop
        </Button>
        <Button onClick={act('restart')} disabled={op.pending || !on}>
          Restart
        </Button>
        {s === 'paused' ? (
          <Button onClick={act('resume')} disabled={op.pending}>
            Resume
          </Button>
        ) : (
          <Button onClick={act('pause')} disabled={op.pending || !on}>
            Pause
          </Button>
        )}
        {s !== 'stopped' && s !== 'creating' ? (
          <Button onClick={act('stop', { force: true })} disabled={op.pending} title="Stop at once, without a clean shutdown">
            Force stop
          </Button>
        ) : null}
        <Button kind="danger" onClick={() => setConfirm(true)} disabled={op.pending}>
          Delete
        </Button>
      </div>
      {confirm ? (
        <div class="confirm" role="alertdialog" aria-label="Delete instance" aria-describedby="confirm-delete-text">
          <p id="confirm-delete-text">
            Delete {inst.name} with its disk and addresses{s !== 'stopped' ? ' (it is stopped first)' : ''}? This cannot be undone.
          </p>
          <Button
            kind="danger"
            disabled={op.pending}
            onClick={() =>
              void op.run(() => (deletingNow.add(inst.name), api.del(path, s !== 'stopped' ? { force: true } : undefined))).then((ok) => {
                setConfirm(false);
                if (!ok) deletingNow.delete(inst.name);
                if (ok) navigate('/instances');
              })
            }
          >
            Confirm delete
          </Button>
          <Button onClick={() => setConfirm(false)} disabled={op.pending}>
            Cancel
          </Button>
        </div>
      ) : null}
      <OpStatus op={op} label="Power action" />
    </div>
  );
}
