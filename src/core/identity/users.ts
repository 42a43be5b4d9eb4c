// Users: created by an admin (or the first one by nimbod itself), with a scrypt password hash, an optional
// platform role and a default project. The platform always keeps one enabled admin.
import { randomUUID } from 'node:crypto';
import { conflict, notFound, NimboError } from '../../lib/errors.js';
import { validateName } from '../../lib/validate.js';
import { casUpdate } from '../../store/cas.js';
import { DEFAULT_PROJECT, keys } from '../../store/keys.js';
import type { Store } from '../../store/store.js';
import type { User, UserCreate, UserPatch } from '../../shared/identity-types.js';
import { checkPasswordPolicy, dummyHash, hashPassword, verifyPassword } from './passwords.js';
import { memberWrites, type ProjectService } from './projects.js';
import { userView, type MemberRecord, type SessionRecord, type TokenRecord, type UserRecord } from './records.js';

/** Users and their passwords, in the store. */
export class UserService {
  constructor(private readonly store: Store, private readonly projects: ProjectService) {}

  /** Every user, by name. */
  async list(): Promise<User[]> {
    return (await this.store.list<UserRecord>(keys.users)).map((kv) => userView(kv.value)).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The stored record of user `name`, if any. */
  async record(name: string): Promise<UserRecord | undefined> {
    return (await this.store.get<UserRecord>(keys.user(name)))?.value;
  }

  /** One user; NotFound when absent. */
  async get(name: string): Promise<User> {
    const u = await this.record(validateName(name, 'user name'));
    if (!u) throw notFound(`user ${name}`);
    return userView(u);
  }

  /** Create a user; it becomes a member of its default project (role member) unless it is one already. */
  async create(input: UserCreate): Promise<User> {
    validateName(input.name, 'user name');
    checkPasswordPolicy(input.password);
    const project = input.defaultProject ?? DEFAULT_PROJECT;
    if (!(await this.projects.exists(project))) throw notFound(`project ${project}`);
    const now = new Date().toISOString();
    const rec: UserRecord = {
      id: randomUUID(),
      name: input.name,
      ...(input.platformRole ? { platformRole: input.platformRole } : {}),
      defaultProject: project,
      createdAt: now,
      passwordHash: await hashPassword(input.password),
    };
    const member: MemberRecord = { project, user: input.name, role: 'member', addedAt: now };
    const ok = await this.store.txn([{ key: keys.user(input.name), modRevision: 0 }, { key: keys.member(project, input.name), modRevision: 0 }], [
      { type: 'put', key: keys.user(input.name), value: rec },
      ...memberWrites(member),
    ]);
    if (!ok) throw conflict(`user ${input.name} already exists`);
    return userView(rec);
  }

  /** Change a user's role, disabled flag, default project or password; sessions end when it is disabled or its password changes. */
  async update(name: string, patch: UserPatch): Promise<User> {
    if (patch.password !== undefined) checkPasswordPolicy(patch.password);
    if (patch.defaultProject !== undefined && !(await this.projects.exists(patch.defaultProject))) throw notFound(`project ${patch.defaultProject}`);
    const passwordHash = patch.password !== undefined ? await hashPassword(patch.password) : undefined;
    const losesAdmin = patch.platformRole !== undefined && patch.platformRole !== 'admin';
    if (losesAdmin || patch.disabled === true) await this.keepOneAdmin(name);
    const res = await casUpdate<UserRecord>(this.store, keys.user(validateName(name, 'user name')), (cur) => {
      if (!cur) throw notFound(`user ${name}`);
      const next: UserRecord = { ...cur };
      if (patch.platformRole === null) delete next.platformRole;
      else if (patch.platformRole !== undefined) next.platformRole = patch.platformRole;
      if (patch.disabled === true) next.disabled = true;
      else if (patch.disabled === false) delete next.disabled;
      if (patch.defaultProject !== undefined) next.defaultProject = patch.defaultProject;
      if (passwordHash !== undefined) next.passwordHash = passwordHash;
      return next;
    });
    if (patch.disabled === true || passwordHash !== undefined) await this.endSessions(res!.value.id);
    return userView(res!.value);
  }

  /** Change the caller's own password: the current one must match. */
  async changePassword(name: string, current: string, next: string): Promise<void> {
    const u = await this.record(name);
    if (!u || !(await verifyPassword(current, u.passwordHash))) throw new NimboError('Forbidden', 'the current password is not right');
    await this.update(name, { password: next });
  }

  /** Delete a user with its memberships, tokens and sessions. */
  async delete(name: string): Promise<void> {
    const u = await this.record(validateName(name, 'user name'));
    if (!u) throw notFound(`user ${name}`);
    await this.keepOneAdmin(name);
    await this.store.delete(keys.user(name));
    await this.projects.forgetUser(name);
    await this.endSessions(u.id);
    for (const kv of await this.store.list<TokenRecord>(keys.tokens)) if (kv.value.userId === u.id) await this.store.delete(kv.key);
  }

  /**
   * The user whose name and password match, or undefined. An unknown user costs one scrypt too, so the
   * time taken does not tell which names exist. A disabled user is refused with its own message.
   */
  async checkLogin(name: string, password: string): Promise<UserRecord | undefined> {
    const u = validNameOrUndefined(name) ? await this.record(name) : undefined;
    const ok = await verifyPassword(password, u?.passwordHash ?? (await dummyHash()));
    if (!u || !ok) return undefined;
    if (u.disabled) throw new NimboError('Unauthorized', `user ${name} is disabled`);
    return u;
  }

  /** Refuse a change that would leave no enabled platform admin other than `name`. */
  private async keepOneAdmin(name: string): Promise<void> {
    const admins = (await this.store.list<UserRecord>(keys.users)).filter((kv) => kv.value.platformRole === 'admin' && !kv.value.disabled);
    if (admins.length === 1 && admins[0]!.value.name === name) throw conflict(`user ${name} is the last enabled platform admin: make another user admin first`);
  }

  /** End every login session of user `id`. */
  private async endSessions(id: string): Promise<void> {
    for (const kv of await this.store.list<SessionRecord>(keys.sessions)) if (kv.value.userId === id) await this.store.delete(kv.key);
  }
}

function validNameOrUndefined(name: string): boolean {
  try {
    validateName(name);
    return true;
  } catch {
    return false;
  }
}
