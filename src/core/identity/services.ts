// The identity services over one store, made together (they are stateless: cheap to make per use).
import type { Store } from '../../store/store.js';
import { ProjectService } from './projects.js';
import { SessionService } from './sessions.js';
import { TokenService } from './tokens.js';
import { UserService } from './users.js';

/** Users, projects, tokens and sessions over `store`. */
export interface IdentityServices {
  projects: ProjectService;
  users: UserService;
  tokens: TokenService;
  sessions: SessionService;
}

/** Make the identity services over `store`. */
export function identityServices(store: Store): IdentityServices {
  const projects = new ProjectService(store);
  return { projects, users: new UserService(store, projects), tokens: new TokenService(store), sessions: new SessionService(store) };
}
