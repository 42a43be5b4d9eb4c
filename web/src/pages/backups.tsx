// PLACEHOLDER, replaced by the page's owner: Backups.
import { Page } from '../components/ui.js';

/** Backups. */
export function BackupsPage(_props: { params: Record<string, string> }) {
  return <Page title="Backups">{null}</Page>;
}
