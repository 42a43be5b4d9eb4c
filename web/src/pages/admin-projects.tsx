// PLACEHOLDER, replaced by the page's owner: Projects.
import { Page } from '../components/ui.js';

/** Projects. */
export function ProjectsPage(_props: { params: Record<string, string> }) {
  return <Page title="Projects">{null}</Page>;
}
