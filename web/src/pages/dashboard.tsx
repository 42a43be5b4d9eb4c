// PLACEHOLDER, replaced by the page's owner: Dashboard.
import { Page } from '../components/ui.js';

/** Dashboard. */
export function DashboardPage(_props: { params: Record<string, string> }) {
  return <Page title="Dashboard">{null}</Page>;
}
