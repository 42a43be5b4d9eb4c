// The panel's frame: login gate, top bar (project, user), menu filtered by the caller's rights, and the page.
import { useEffect } from 'preact/hooks';
import { me, can, refreshSession, logout, project, chooseProject } from './lib/session.js';
import { route, href, match, navigate } from './lib/router.js';
import { onSessionLost } from './lib/api.js';
import { closeEvents, reconnectEvents } from './lib/events.js';
import { ROUTES, pageAllowed, type PageRoute } from './routes.js';
import { LoginPage } from './pages/login.js';
import { Loading, Page } from './components/ui.js';

onSessionLost(() => {
  closeEvents();
  me.value = undefined;
});

/** The whole panel. */
export function App() {
  useEffect(() => {
    void refreshSession();
  }, []);
  if (me.value === null) return <Loading />;
  if (me.value === undefined) return <LoginPage />;
  const path = route.value;
  let found: { r: PageRoute; params: Record<string, string> } | undefined;
  for (const r of ROUTES) {
    const params = match(r.path, path);
    if (params) {
      found = { r, params };
      break;
    }
  }
  const allowed = found && pageAllowed(found.r, can);
  const Comp = found?.r.component;
  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <TopBar />
      <div class="body">
        <Menu path={path} />
        <main id="main" tabIndex={-1}>
          {!found ? (
            <Page title="Not found">
              <p>There is no page at {path}.</p>
            </Page>
          ) : !allowed ? (
            <Page title={found.r.title}>
              <p class="error" role="alert">
                Your role does not allow this page in project {project.value}.
              </p>
            </Page>
          ) : (
            Comp && <Comp key={`${project.value}:${path}`} params={found.params} />
          )}
        </main>
      </div>
    </div>
  );
}

function TopBar() {
  const w = me.value!;
  const projects = Object.keys(w.projects);
  const choices = projects.includes(project.value) ? projects : [project.value, ...projects];
  return (
    <header class="topbar">
      <a class="brand" href={href('/')}>
        nimbo
      </a>
      <label class="project-pick">
        <span>Project</span>
        <select
          value={project.value}
          onChange={(e) => {
            chooseProject(e.currentTarget.value);
            reconnectEvents();
          }}
        >
          {choices.sort().map((p) => (
            <option value={p}>{p}</option>
          ))}
        </select>
      </label>
      <span class="who">
        {w.user.name}
        {w.user.platformRole ? ` (${w.user.platformRole})` : w.projects[project.value] ? ` (${w.projects[project.value]})` : ''}
      </span>
      <button
        class="btn btn-plain"
        type="button"
        onClick={() => {
          closeEvents();
          void logout().then(() => navigate('/'));
        }}
      >
        Log out
      </button>
    </header>
  );
}

const GROUPS: [NonNullable<PageRoute['menu']>, string][] = [
  ['main', 'Servers'],
  ['resources', 'Resources'],
  ['admin', 'Admin'],
];

function Menu(props: { path: string }) {
  return (
    <nav class="menu" aria-label="Main">
      {GROUPS.map(([g, label]) => {
        const items = ROUTES.filter((r) => r.menu === g && pageAllowed(r, can));
        if (!items.length) return null;
        return (
          <div class="menu-group">
            <h2>{label}</h2>
            <ul>
              {items.map((r) => {
                const active = r.path === '/' ? props.path === '/' : props.path === r.path || props.path.startsWith(`${r.path}/`);
                return (
                  <li>
                    <a href={href(r.path)} aria-current={active ? 'page' : undefined}>
                      {r.title}
                    </a>
                  </li>
                );
              })}
            </ul>
          </div>
        );
      })}
    </nav>
  );
}
