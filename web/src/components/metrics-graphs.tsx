// PLACEHOLDER, replaced by its owner: graphs (uPlot) of an instance's or the host's metrics history.
/** CPU, memory, disk and network graphs of `instance` (or of the host when absent). */
export function MetricsGraphs(_props: { instance?: string }) {
  return <div aria-label="Graphs" />;
}
