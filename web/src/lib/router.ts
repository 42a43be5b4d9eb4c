// A tiny hash router: the daemon serves only "/" and its assets (nothing else is public), so the panel's
// own addresses live after the "#": /#/instances/web1.
import { signal } from '@preact/signals';

/** The panel's current path (after "#"), e.g. "/instances/web1". */
export const route = signal<string>(current());

function current(): string {
  const h = location.hash.replace(/^#/, '');
  return h.startsWith('/') ? h.split('?')[0]! : '/';
}

addEventListener('hashchange', () => {
  route.value = current();
});

/** Go to a panel path. */
export function navigate(path: string): void {
  if (location.hash !== `#${path}`) location.hash = path;
  else route.value = current();
}

/** The href of a panel path (for <a>). */
export function href(path: string): string {
  return `#${path}`;
}

/** Match `pattern` ("/instances/:name") against `path`: the parameters, or undefined. */
export function match(pattern: string, path: string): Record<string, string> | undefined {
  const a = pattern.split('/');
  const b = path.split('/');
  if (a.length !== b.length) return undefined;
  const out: Record<string, string> = {};
  for (let i = 0; i < a.length; i++) {
    if (a[i]!.startsWith(':')) out[a[i]!.slice(1)] = decodeURIComponent(b[i]!);
    else if (a[i] !== b[i]) return undefined;
  }
  return out;
}
