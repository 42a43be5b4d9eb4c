// PLACEHOLDER, replaced by the page's owner: Operations.
import { Page } from '../components/ui.js';

/** Operations. */
export function OperationsPage(_props: { params: Record<string, string> }) {
  return <Page title="Operations">{null}</Page>;
}
