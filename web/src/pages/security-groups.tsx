// PLACEHOLDER, replaced by the page's owner: Security groups.
import { Page } from '../components/ui.js';

/** Security groups. */
export function SecurityGroupsPage(_props: { params: Record<string, string> }) {
  return <Page title="Security groups">{null}</Page>;
}
