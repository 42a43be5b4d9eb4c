// PLACEHOLDER, replaced by the page's owner: Plans.
import { Page } from '../components/ui.js';

/** Plans. */
export function PlansPage(_props: { params: Record<string, string> }) {
  return <Page title="Plans">{null}</Page>;
}
