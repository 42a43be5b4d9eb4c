// The serial console in the browser: xterm.js over /instances/{name}/console (a VM's serial line, or a login shell
// on a pty in a container). Every (re)connect gets a new single-use ticket bound to this session and instance.
import { TerminalSession } from './terminal-session.js';
import { socketUrl } from '../lib/api.js';
import { closeText } from '../lib/live-text.js';

/** The serial console of a VM, or a login shell of a container. */
export function SerialConsole(props: { instance: string }) {
  const name = props.instance;
  return <TerminalSession label="Serial console" replayFirst open={() => socketUrl(`/instances/${encodeURIComponent(name)}/console`, { instance: name })} closed={closeText} />;
}
