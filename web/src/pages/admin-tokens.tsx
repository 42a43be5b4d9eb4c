// PLACEHOLDER, replaced by the page's owner: API tokens.
import { Page } from '../components/ui.js';

/** API tokens. */
export function TokensPage(_props: { params: Record<string, string> }) {
  return <Page title="API tokens">{null}</Page>;
}
