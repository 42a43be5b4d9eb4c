// PLACEHOLDER, replaced by its owner: the VGA console (noVNC over /instances/{name}/vnc).
/** The VGA console of a VM. */
export function VncConsole(_props: { instance: string }) {
  return <div aria-label="VGA console" />;
}
