// A command on a pty in a container, in the browser: xterm.js over /instances/{name}/exec?cmd=...; the pty gets
// the terminal's size when it starts, and the status line shows "exited N" when the command ends.
import { TerminalSession } from './terminal-session.js';
import { socketUrl } from '../lib/api.js';
import { exitText } from '../lib/live-text.js';

/** A terminal running `command` (default a shell) in a container. */
export function ExecTerminal(props: { instance: string; command?: string[] }) {
  const name = props.instance;
  const cmd = props.command?.length ? props.command : ['/bin/sh'];
  return (
    <TerminalSession
      label="Container shell"
      open={(size) => socketUrl(`/instances/${encodeURIComponent(name)}/exec`, { instance: name, query: { cmd, rows: size.rows, cols: size.cols } })}
      closed={exitText}
    />
  );
}
