// PLACEHOLDER, replaced by the page's owner: Images.
import { Page } from '../components/ui.js';

/** Images. */
export function ImagesPage(_props: { params: Record<string, string> }) {
  return <Page title="Images">{null}</Page>;
}
