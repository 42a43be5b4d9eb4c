// The Console, VGA and Graphs tabs: their components (and xterm, noVNC, uPlot) load only when the tab opens.
import { lazy, Suspense } from 'preact/compat';
import { useState } from 'preact/hooks';
import type { Instance } from '../../../src/shared/api-types.js';
import { apiUrl, readAnswer } from '../lib/api.js';
import { useLoad } from '../lib/hooks.js';
import { plainText } from '../lib/instance-view.js';
import { can } from '../lib/session.js';
import { Button, ErrorBox, Loading } from './ui.js';

const SerialConsole = lazy(() => import('./serial-console.js').then((m) => ({ default: m.SerialConsole })));
const VncConsole = lazy(() => import('./vnc-console.js').then((m) => ({ default: m.VncConsole })));
const ExecTerminal = lazy(() => import('./exec-terminal.js').then((m) => ({ default: m.ExecTerminal })));
const MetricsGraphs = lazy(() => import('./metrics-graphs.js').then((m) => ({ default: m.MetricsGraphs })));

const live = (i: Instance) => i.state === 'running' || i.state === 'rescue' || i.state === 'paused';

/** The serial console (a VM's), or a login shell and a separate "Shell" terminal (a container's). */
export function ConsoleTab(props: { inst: Instance }) {
  const i = props.inst;
  const [shell, setShell] = useState(false);
  // The console and exec sockets are writes on the instance: viewers read the recent console log instead.
  if (!can('write', 'instance')) return <ConsoleLog name={i.name} />;
  if (!live(i)) {
    return (
      <>
        <p class="muted">The console opens while the instance runs (it is {i.state}). Its last output:</p>
        <ConsoleLog name={i.name} />
      </>
    );
  }
  return (
    <Suspense fallback={<Loading />}>
      {i.type === 'container' ? (
        <p>
          <Button onClick={() => setShell(!shell)}>{shell ? 'Back to the console' : 'Shell'}</Button>
        </p>
      ) : null}
      {shell && i.type === 'container' ? <ExecTerminal instance={i.name} /> : <SerialConsole instance={i.name} />}
    </Suspense>
  );
}

/** The VGA console of a VM. */
export function VgaTab(props: { inst: Instance }) {
  const i = props.inst;
  if (!can('write', 'instance')) return <p class="muted">Your role may not use the consoles of this project.</p>;
  if (!live(i)) return <p class="muted">The VGA console opens while the VM runs (it is {i.state}).</p>;
  return (
    <Suspense fallback={<Loading />}>
      <VncConsole instance={i.name} />
    </Suspense>
  );
}

/** The metrics graphs of the instance. */
export function GraphsTab(props: { inst: Instance }) {
  return (
    <Suspense fallback={<Loading />}>
      <MetricsGraphs instance={props.inst.name} />
    </Suspense>
  );
}

/** Recent serial console output, for callers who may read but not use the console. */
function ConsoleLog(props: { name: string }) {
  const log = useLoad(() => fetchText(`/instances/${encodeURIComponent(props.name)}/console/log`), [props.name]);
  return (
    <>
      <ErrorBox error={log.error} />
      {log.data !== undefined ? (
        <pre class="console-log" aria-label="Console log" tabIndex={0}>
          {plainText(log.data) || '(no output yet)'}
        </pre>
      ) : log.error ? null : (
        <Loading />
      )}
    </>
  );
}

/** GET a text route (console/log answers text/plain, not JSON); errors keep the API's sentence. */
async function fetchText(path: string): Promise<string> {
  const res = await fetch(apiUrl(path), { credentials: 'same-origin' });
  if (!res.ok) await readAnswer(res);
  return res.text();
}
