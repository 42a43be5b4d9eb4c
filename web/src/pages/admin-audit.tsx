// PLACEHOLDER, replaced by the page's owner: Audit log.
import { Page } from '../components/ui.js';

/** Audit log. */
export function AuditPage(_props: { params: Record<string, string> }) {
  return <Page title="Audit log">{null}</Page>;
}
