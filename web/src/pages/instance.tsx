// PLACEHOLDER, replaced by the page's owner: Instance.
import { Page } from '../components/ui.js';

/** Instance. */
export function InstancePage(_props: { params: Record<string, string> }) {
  return <Page title="Instance">{null}</Page>;
}
