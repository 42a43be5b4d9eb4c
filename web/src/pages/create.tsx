// PLACEHOLDER, replaced by the page's owner: Create an instance.
import { Page } from '../components/ui.js';

/** Create an instance. */
export function CreatePage(_props: { params: Record<string, string> }) {
  return <Page title="Create an instance">{null}</Page>;
}
