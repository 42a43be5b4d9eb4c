// PLACEHOLDER, replaced by the page's owner: Quota and usage.
import { Page } from '../components/ui.js';

/** Quota and usage. */
export function QuotaUsagePage(_props: { params: Record<string, string> }) {
  return <Page title="Quota and usage">{null}</Page>;
}
