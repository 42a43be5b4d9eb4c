// PLACEHOLDER, replaced by the page's owner: Users.
import { Page } from '../components/ui.js';

/** Users. */
export function UsersPage(_props: { params: Record<string, string> }) {
  return <Page title="Users">{null}</Page>;
}
