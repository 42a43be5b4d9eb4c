// The panel's pages: path, title, whether it shows in the menu, and the access it needs (the same
// action/resource as the API route it reads; the menu hides what the caller may not use).
import type { ComponentType } from 'preact';
import type { Action, Resource } from '../../src/core/authz/access.js';
export { pageAllowed } from './lib/page-access.js';
import { DashboardPage } from './pages/dashboard.js';
import { InstancesPage } from './pages/instances.js';
import { CreatePage } from './pages/create.js';
import { InstancePage } from './pages/instance.js';
import { ImagesPage } from './pages/images.js';
import { StoragePage } from './pages/storage.js';
import { NetworksPage } from './pages/networks.js';
import { SecurityGroupsPage } from './pages/security-groups.js';
import { BackupsPage } from './pages/backups.js';
import { OperationsPage } from './pages/operations.js';
import { ProjectsPage } from './pages/admin-projects.js';
import { UsersPage } from './pages/admin-users.js';
import { TokensPage } from './pages/admin-tokens.js';
import { PlansPage } from './pages/admin-plans.js';
import { QuotaUsagePage } from './pages/admin-quota-usage.js';
import { AuditPage } from './pages/admin-audit.js';

/** One page of the panel. */
export interface PageRoute {
  path: string;
  title: string;
  /** Menu group; absent: not in the menu. */
  menu?: 'main' | 'resources' | 'admin';
  /** The access the page needs; with several, any one is enough (an operator manages pools without a project role). */
  need?: [Action, Resource] | [Action, Resource][];
  component: ComponentType<{ params: Record<string, string> }>;
}

/** Every page, most specific paths first. */
export const ROUTES: PageRoute[] = [
  { path: '/', title: 'Dashboard', menu: 'main', component: DashboardPage },
  { path: '/instances', title: 'Instances', menu: 'main', need: ['read', 'instance'], component: InstancesPage },
  { path: '/instances/new', title: 'Create', need: ['write', 'instance'], component: CreatePage },
  { path: '/instances/:name', title: 'Instance', need: ['read', 'instance'], component: InstancePage },
  { path: '/operations', title: 'Operations', menu: 'main', need: ['read', 'operation'], component: OperationsPage },
  { path: '/images', title: 'Images', menu: 'resources', need: [['read', 'image'], ['write', 'host']], component: ImagesPage },
  { path: '/storage', title: 'Storage', menu: 'resources', need: [['read', 'volume'], ['read', 'pool']], component: StoragePage },
  { path: '/networks', title: 'Networks', menu: 'resources', need: ['read', 'network'], component: NetworksPage },
  { path: '/security-groups', title: 'Security groups', menu: 'resources', need: ['read', 'secgroup'], component: SecurityGroupsPage },
  { path: '/backups', title: 'Backups', menu: 'resources', need: [['read', 'backup'], ['write', 'backup-store']], component: BackupsPage },
  { path: '/admin/projects', title: 'Projects', menu: 'admin', need: ['read', 'project'], component: ProjectsPage },
  { path: '/admin/users', title: 'Users', menu: 'admin', need: ['read', 'user'], component: UsersPage },
  { path: '/admin/tokens', title: 'API tokens', menu: 'admin', need: ['read', 'self'], component: TokensPage },
  { path: '/admin/plans', title: 'Plans', menu: 'admin', need: ['read', 'plan'], component: PlansPage },
  { path: '/admin/quota', title: 'Quota and usage', menu: 'admin', need: ['read', 'usage'], component: QuotaUsagePage },
  { path: '/admin/audit', title: 'Audit log', menu: 'admin', need: ['read', 'audit'], component: AuditPage },
];

