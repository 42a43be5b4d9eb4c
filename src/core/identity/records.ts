// The stored shapes of users, projects, memberships, API tokens and sessions (store keys: store/keys.ts).
import type { PlatformRole, ProjectRole } from './principal.js';
import type { User } from '../../shared/identity-types.js';

/** A user as stored: the wire User plus its password hash. */
export interface UserRecord {
  id: string;
  name: string;
  platformRole?: PlatformRole;
  defaultProject: string;
  createdAt: string;
  disabled?: boolean;
  /** passwords.ts's self-describing scrypt string. */
  passwordHash: string;
}

/** A project as stored. */
export interface ProjectRecord {
  name: string;
  description: string;
  createdAt: string;
}

/** A membership as stored under /members/<project>/<user>. */
export interface MemberRecord {
  project: string;
  user: string;
  role: ProjectRole;
  addedAt: string;
}

/** An API token as stored: the SHA-256 of the whole `nimbo_<id>_<secret>`, never the secret. */
export interface TokenRecord {
  id: string;
  name: string;
  /** The owner's UUID: a user deleted and made again under its name does not inherit the token. */
  userId: string;
  userName: string;
  access: 'read' | 'write';
  project?: string;
  sha256: string;
  createdAt: string;
  expiresAt?: string;
  lastUsedAt?: string;
  revokedAt?: string;
}

/** A login session as stored under /sessions/<sha256 of the cookie>. */
export interface SessionRecord {
  userId: string;
  userName: string;
  /** Sent back as X-CSRF-Token on every write made with the cookie (not a credential by itself). */
  csrf: string;
  createdAt: string;
  lastSeenAt: string;
}

/** The wire view of a user record (no hash). */
export function userView(u: UserRecord): User {
  return {
    id: u.id,
    name: u.name,
    ...(u.platformRole ? { platformRole: u.platformRole } : {}),
    defaultProject: u.defaultProject,
    createdAt: u.createdAt,
    ...(u.disabled ? { disabled: true } : {}),
  };
}
