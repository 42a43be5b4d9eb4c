// Memberships and the per-user index a request's roles are read from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../store/sqlite/sqlite-store.js';
import { keys } from '../../store/keys.js';
import { identityServices } from './services.js';

test("a user's roles come from its own index, kept with every membership change, rebuilt at start when missing", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-members-'));
  const store = new SqliteStore(join(dir, 'state.db'));
  try {
    const { projects, users } = identityServices(store);
    await projects.ensureDefault();
    await users.create({ name: 'root', password: 'root-password-1' });
    await users.create({ name: 'alice', password: 'alice-password-1' });
    await projects.create('shop', '', 'root');
    await projects.create('blog', '', 'root');
    await projects.addMember('shop', 'alice', 'viewer');
    await projects.addMember('blog', 'alice', 'owner');
    assert.deepEqual(await projects.rolesOf('alice'), { default: 'member', shop: 'viewer', blog: 'owner' });
    await projects.setRole('shop', 'alice', 'member');
    await projects.removeMember('blog', 'alice');
    assert.deepEqual(await projects.rolesOf('alice'), { default: 'member', shop: 'member' });
    assert.deepEqual(await projects.rolesOf('root'), { default: 'member', shop: 'owner', blog: 'owner' });
    await projects.delete('blog');
    assert.deepEqual(await projects.rolesOf('root'), { default: 'member', shop: 'owner' });
    // Entries lost (a store from before the index): the next start writes them again.
    await store.delete(keys.userProject('alice', 'shop'));
    assert.deepEqual(await projects.rolesOf('alice'), { default: 'member' });
    await projects.ensureDefault();
    assert.deepEqual(await projects.rolesOf('alice'), { default: 'member', shop: 'member' });
    await users.delete('alice');
    assert.deepEqual(await store.list(keys.userProjects('alice')), []);
    assert.deepEqual((await store.list('/members/')).filter((kv) => kv.key.endsWith('/alice')), []);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
