// PLACEHOLDER, replaced by the page's owner: Instances.
import { Page } from '../components/ui.js';

/** Instances. */
export function InstancesPage(_props: { params: Record<string, string> }) {
  return <Page title="Instances">{null}</Page>;
}
