// Projects and memberships. A project is named (immutable); 'default' always exists. A membership gives
// one user one role (owner, member, viewer) in one project; a project keeps at least one owner.
import { conflict, invalid, notFound } from '../../lib/errors.js';
import { validateName } from '../../lib/validate.js';
import { casUpdate } from '../../store/cas.js';
import { DEFAULT_PROJECT, keys } from '../../store/keys.js';
import type { Store, TxnOp } from '../../store/store.js';
import type { Member, Project } from '../../shared/identity-types.js';
import type { ProjectRole } from './principal.js';
import type { MemberRecord, ProjectRecord, TokenRecord, UserRecord } from './records.js';

/** What a project owns, by key prefix; a project is deleted only when they are all empty (the default group aside). */
function ownedPrefixes(project: string): { prefix: string; what: string }[] {
  return [
    { prefix: keys.instances(project), what: 'instance' },
    { prefix: keys.volumeMetaOfProject(project), what: 'volume' },
    { prefix: keys.networks(project), what: 'network' },
    { prefix: keys.forwardsOfProject(project), what: 'port forward' },
    { prefix: keys.secgroups(project), what: 'security group' },
    { prefix: keys.privateImages(project), what: 'private image' },
  ];
}

/** The security group every project gets on first use; it goes with its project. */
const DEFAULT_GROUP = 'default';

/** The writes of a membership: its record and its entry in the user's index (both, or neither). */
export function memberWrites(m: MemberRecord): TxnOp[] {
  return [
    { type: 'put', key: keys.member(m.project, m.user), value: m },
    { type: 'put', key: keys.userProject(m.user, m.project), value: { role: m.role } },
  ];
}

/** The deletes of a membership. */
function memberDeletes(project: string, user: string): TxnOp[] {
  return [{ type: 'delete', key: keys.member(project, user) }, { type: 'delete', key: keys.userProject(user, project) }];
}

/** Projects and their memberships, in the store. */
export class ProjectService {
  constructor(private readonly store: Store) {}

  /** Make sure project 'default' exists. */
  async ensureDefault(): Promise<void> {
    await casUpdate<ProjectRecord>(this.store, keys.project(DEFAULT_PROJECT), (cur) =>
      cur ? undefined : { name: DEFAULT_PROJECT, description: 'the project every user starts in', createdAt: new Date().toISOString() });
    // Memberships written before the per-user index existed get their entries (once; later ones are written together).
    for (const kv of await this.store.list<MemberRecord>(keys.allMembers)) {
      const m = kv.value;
      if (!(await this.store.get(keys.userProject(m.user, m.project)))) await this.store.put(keys.userProject(m.user, m.project), { role: m.role });
    }
  }

  /** Every project, by name. */
  async list(): Promise<Project[]> {
    return (await this.store.list<ProjectRecord>(keys.projects)).map((kv) => kv.value).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** One project; NotFound when absent. */
  async get(name: string): Promise<Project> {
    const kv = await this.store.get<ProjectRecord>(keys.project(validateName(name, 'project name')));
    if (!kv) throw notFound(`project ${name}`);
    return kv.value;
  }

  /** Whether project `name` exists. */
  async exists(name: string): Promise<boolean> {
    return (await this.store.get(keys.project(name))) !== undefined;
  }

  /** Create a project with `owner` as its first owner (atomically: both or neither). */
  async create(name: string, description: string, owner: string): Promise<Project> {
    validateName(name, 'project name');
    const now = new Date().toISOString();
    const rec: ProjectRecord = { name, description, createdAt: now };
    const m: MemberRecord = { project: name, user: owner, role: 'owner', addedAt: now };
    const ok = await this.store.txn([{ key: keys.project(name), modRevision: 0 }], [{ type: 'put', key: keys.project(name), value: rec }, ...memberWrites(m)]);
    if (!ok) throw conflict(`project ${name} already exists`);
    return rec;
  }

  /** Delete a project that owns nothing: its memberships go, tokens limited to it are revoked. */
  async delete(name: string): Promise<void> {
    if (name === DEFAULT_PROJECT) throw invalid(`project ${DEFAULT_PROJECT} cannot be deleted`);
    await this.get(name);
    for (const { prefix, what } of ownedPrefixes(name)) {
      const owned = (await this.store.list(prefix)).filter((kv) => kv.key !== keys.secgroup(name, DEFAULT_GROUP));
      if (owned.length > 0) throw conflict(`project ${name} still owns ${owned.length} ${what}(s), e.g. ${owned[0]!.key.slice(prefix.length)}: delete them first`);
    }
    const members = await this.store.list<MemberRecord>(keys.members(name));
    const gone = [keys.project(name), keys.secgroup(name, DEFAULT_GROUP), keys.quota(name), keys.quotaUsage(name)];
    await this.store.txn([], [...gone.map((key) => ({ type: 'delete' as const, key })), ...members.flatMap((kv) => memberDeletes(name, kv.value.user))]);
    const now = new Date().toISOString();
    // A project made again under the same name must not be reachable with the old one's tokens.
    for (const kv of await this.store.list<TokenRecord>(keys.tokens)) {
      if (kv.value.project === name && !kv.value.revokedAt) await casUpdate<TokenRecord>(this.store, kv.key, (t) => (t && !t.revokedAt ? { ...t, revokedAt: now } : undefined));
    }
  }

  /** The members of a project. */
  async members(project: string): Promise<Member[]> {
    await this.get(project);
    return (await this.store.list<MemberRecord>(keys.members(project))).map((kv) => kv.value).sort((a, b) => a.user.localeCompare(b.user));
  }

  /** Every project role of user `user` (project name -> role). */
  async rolesOf(user: string): Promise<Record<string, ProjectRole>> {
    const out: Record<string, ProjectRole> = {};
    const prefix = keys.userProjects(user);
    for (const kv of await this.store.list<{ role: ProjectRole }>(prefix)) out[kv.key.slice(prefix.length)] = kv.value.role;
    return out;
  }

  /** Add `user` to `project` with `role`; Conflict when it is a member already. */
  async addMember(project: string, user: string, role: ProjectRole): Promise<Member> {
    await this.get(project);
    if (!(await this.store.get<UserRecord>(keys.user(validateName(user, 'user name'))))) throw notFound(`user ${user}`);
    const m: MemberRecord = { project, user, role, addedAt: new Date().toISOString() };
    const ok = await this.store.txn([{ key: keys.member(project, user), modRevision: 0 }], memberWrites(m));
    if (!ok) throw conflict(`user ${user} is a member of project ${project} already: change the role instead`);
    return m;
  }

  /** Change a member's role; refuses to leave the project without an owner. */
  async setRole(project: string, user: string, role: ProjectRole): Promise<Member> {
    return this.changeMember(project, user, role);
  }

  /** Remove a member; refuses to remove the project's last owner. */
  async removeMember(project: string, user: string): Promise<void> {
    await this.changeMember(project, user, undefined);
  }

  /** Drop every membership of `user` (the user is being deleted). */
  async forgetUser(user: string): Promise<void> {
    for (const kv of await this.store.list<{ role: ProjectRole }>(keys.userProjects(user))) {
      await this.store.txn([], memberDeletes(kv.key.slice(keys.userProjects(user).length), user));
    }
  }

  /** Set (or with undefined, remove) a membership, in one transaction that also checks an owner remains. */
  private async changeMember(project: string, user: string, role: ProjectRole | undefined): Promise<Member> {
    await this.get(project);
    for (let i = 0; i < 20; i++) {
      const all = await this.store.list<MemberRecord>(keys.members(project));
      const cur = all.find((kv) => kv.value.user === user);
      if (!cur) throw notFound(`user ${user} in project ${project}`);
      const owners = all.filter((kv) => kv.value.role === 'owner');
      if (cur.value.role === 'owner' && role !== 'owner' && owners.length === 1) {
        throw conflict(`user ${user} is the last owner of project ${project}: make another member owner first`);
      }
      const next: MemberRecord = { ...cur.value, role: role ?? cur.value.role };
      // Comparing every owner's revision makes two concurrent demotions unable to remove both owners.
      const compares = [cur, ...owners].map((kv) => ({ key: kv.key, modRevision: kv.modRevision }));
      if (await this.store.txn(compares, role ? memberWrites(next) : memberDeletes(project, user))) return next;
    }
    throw conflict(`the members of project ${project} are being changed by others too often; try again`);
  }
}
