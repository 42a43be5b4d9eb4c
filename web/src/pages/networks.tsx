// PLACEHOLDER, replaced by the page's owner: Networks.
import { Page } from '../components/ui.js';

/** Networks. */
export function NetworksPage(_props: { params: Record<string, string> }) {
  return <Page title="Networks">{null}</Page>;
}
