// PLACEHOLDER, replaced by its owner: the serial console (xterm.js over /instances/{name}/console).
/** The serial console of a VM, or a login shell of a container. */
export function SerialConsole(_props: { instance: string }) {
  return <div aria-label="Serial console" />;
}
