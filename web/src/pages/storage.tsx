// PLACEHOLDER, replaced by the page's owner: Storage.
import { Page } from '../components/ui.js';

/** Storage. */
export function StoragePage(_props: { params: Record<string, string> }) {
  return <Page title="Storage">{null}</Page>;
}
