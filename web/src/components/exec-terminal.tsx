// PLACEHOLDER, replaced by its owner: a command on a pty in a container (xterm.js over /instances/{name}/exec).
/** A terminal running `command` (default a shell) in a container. */
export function ExecTerminal(_props: { instance: string; command?: string[] }) {
  return <div aria-label="Container shell" />;
}
