// Backups on a real daemon: a running tiny VM (TCG) and a system container backed up into an encrypted
// datastore, incrementals through persistent dirty bitmaps across a VM stop/start and a daemon restart,
// restores (new instance, in place, single files, raw export bit-identical), verify with a flipped byte,
// prune and GC, a killed daemon mid-backup, a full datastore disk, and a pull sync between two daemons.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestDaemon, makeSshKey, sleep, ssh, sshUntil, systemSkipReason } from './harness.js';
import { runArgv } from '../../src/host/exec.js';

const skip = systemSkipReason();
const PASS = 'correct horse battery staple';

interface BackupView { id: string; mode: string; consistency: string; encrypted: boolean; stats: { bytesRead: number; bytesNew: number }; archives: { name: string; size: number; reason?: string }[] }
interface Op { status: string; result?: unknown; error?: { message: string } }

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

/** Every chunk file of a datastore. */
function chunkFiles(dir: string): string[] {
  const root = join(dir, 'chunks');
  return readdirSync(root).flatMap((p) => readdirSync(join(root, p)).filter((f) => /^[0-9a-f]{64}$/.test(f)).map((f) => join(root, p, f)));
}

describe('backups on a real daemon (TCG VM, container)', { skip, timeout: 1_500_000 }, () => {
  let d: TestDaemon;
  let key: { dir: string; key: string; pub: string };
  let work: string;
  let storeDir: string;
  const ids: string[] = [];
  let addr = '';

  const backup = async (inst: string, ...more: string[]): Promise<BackupView> => {
    const op = await d.cliJson<Op>('backup', 'create', inst, '--store', 'bk', ...more);
    assert.equal(op.status, 'success', JSON.stringify(op.error));
    const b = op.result as BackupView;
    ids.push(b.id);
    return b;
  };
  const guest = async (cmd: string) => {
    const r = await ssh(key.key, addr, cmd);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };

  before(async () => {
    d = await TestDaemon.start();
    key = await makeSshKey();
    work = mkdtempSync(join(tmpdir(), `nimbo-bk-${d.prefix}-`));
    storeDir = join(work, 'store');
    writeFileSync(join(work, 'pass'), `${PASS}\n`, { mode: 0o600 });
    const r = await d.cli('launch', 'tiny', 'vm1', '--ssh-key', `${key.key}.pub`, '--memory', '256MiB', '--quiet');
    assert.equal(r.code, 0, r.stderr);
    addr = (await d.cliJson<{ addresses: string[] }>('info', 'vm1')).addresses[0]!;
    await sshUntil(key.key, addr, 120_000, 'true');
  });
  after(async () => {
    await runArgv(['umount', '-l', join(work, 'small')], { allowFailure: true });
    await d?.cleanup();
    if (key) rmSync(key.dir, { recursive: true, force: true });
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('an encrypted store: created with a passphrase; a wrong one cannot attach it and writes nothing', async () => {
    const r = await d.cli('backup', 'store', 'create', 'bk', '--path', storeDir, '--encrypt', '--passphrase-file', join(work, 'pass'));
    assert.equal(r.code, 0, r.stderr);
    const st = await d.cliJson<{ encrypted: boolean; keyFingerprint: string; path: string }>('backup', 'store', 'info', 'bk');
    assert.equal(st.encrypted, true);
    assert.equal(st.path, storeDir);
    const keyFiles = readdirSync(join(d.stateDir, 'backup-keys'));
    assert.equal(keyFiles.length, 1);
    assert.equal(statSync(join(d.stateDir, 'backup-keys', keyFiles[0]!)).mode & 0o777, 0o600, 'the key file is root-only');
    // The same datastore attached under another name with a wrong passphrase: refused, nothing written.
    await d.cli('backup', 'store', 'delete', 'bk');
    writeFileSync(join(work, 'wrong'), 'not the passphrase\n');
    const before = readdirSync(storeDir).sort();
    const bad = await d.cli('backup', 'store', 'create', 'bk', '--path', storeDir, '--passphrase-file', join(work, 'wrong'));
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /wrong passphrase/);
    assert.deepEqual(readdirSync(storeDir).sort(), before);
    assert.equal((await d.api('GET', '/backup-stores/bk')).status, 404);
    const ok = await d.cli('backup', 'store', 'create', 'bk', '--path', storeDir, '--passphrase-file', join(work, 'pass'));
    assert.equal(ok.code, 0, ok.stderr);
  });

  test('a running VM: full, then incremental reading only what changed; it keeps running meanwhile', async () => {
    // The tiny image runs qemu-ga: once it answers, the backup's instant is taken with the guest frozen.
    for (let i = 0; i < 120 && (await d.api('GET', '/instances/vm1')).body.agent?.available !== true; i++) await new Promise((r) => setTimeout(r, 500));
    const full = await backup('vm1');
    assert.equal(full.mode, 'full');
    assert.equal(full.consistency, 'application-consistent');
    assert.equal(full.encrypted, true);
    assert.equal((await d.cliJson<{ state: string }>('info', 'vm1')).state, 'running');
    await guest('dd if=/dev/urandom of=/root/marker bs=1k count=256 2>/dev/null && sha256sum /root/marker > /root/marker.sum && sync');
    const inc = await backup('vm1');
    assert.equal(inc.mode, 'incremental', JSON.stringify(inc.archives));
    assert.ok(inc.stats.bytesRead < 16 * 1024 ** 2, `an incremental read ${inc.stats.bytesRead} bytes`);
    assert.ok(inc.stats.bytesRead < full.stats.bytesRead / 4, `${inc.stats.bytesRead} vs ${full.stats.bytesRead}`);
  });

  test('incrementals survive a daemon restart and a VM stop/start (persistent bitmaps)', async () => {
    await d.stop('SIGKILL');
    await d.launch();
    await guest('echo after-restart > /root/second && sync');
    const a = await backup('vm1');
    assert.equal(a.mode, 'incremental', 'after a daemon restart');
    assert.equal((await d.cli('stop', 'vm1')).code, 0);
    assert.equal((await d.cli('start', 'vm1')).code, 0);
    await sshUntil(key.key, addr, 120_000, 'true');
    await guest('echo after-stop-start > /root/third && sync');
    const b = await backup('vm1');
    assert.equal(b.mode, 'incremental', `after a VM stop/start: ${JSON.stringify(b.archives)}`);
    assert.ok(b.stats.bytesRead < 16 * 1024 ** 2, `read ${b.stats.bytesRead}`);
  });

  test('single files come out of a VM backup (loop-mounted read-only); a raw export of a stopped VM is bit-identical', async () => {
    const id = ids.at(-1)!;
    const ls = await d.cliJson<{ name: string }[]>('backup', 'files', id, '/root');
    assert.ok(ls.some((e) => e.name === 'marker'), JSON.stringify(ls));
    const out = join(work, 'marker');
    assert.equal((await d.cli('backup', 'file', id, '/root/marker', out)).code, 0);
    const sum = (await guest('cat /root/marker.sum')).split(' ')[0];
    assert.equal(await sha256(out), sum);
    const escape = await d.cli('backup', 'file', id, '/../../etc/shadow', join(work, 'x'));
    assert.notEqual(escape.code, 0);
    // Stopped: the backup and the disk must be the same bytes.
    assert.equal((await d.cli('stop', 'vm1')).code, 0);
    const stopped = await backup('vm1');
    assert.equal(stopped.consistency, 'stopped');
    assert.equal(stopped.mode, 'incremental');
    const exp = join(work, 'export.raw');
    assert.equal((await d.cli('backup', 'export', stopped.id, exp, '--format', 'raw')).code, 0);
    const disk = join(work, 'disk.raw');
    const found = await runArgv(['find', d.stateDir, '-name', `${await d.rootVolumeOf('vm1')}*`, '-type', 'f']);
    const src = found.stdout.split('\n').filter(Boolean)[0]!;
    await runArgv(['qemu-img', 'convert', '-U', '-O', 'raw', src, disk]);
    assert.equal(await sha256(exp), await sha256(disk), 'the restored disk equals the disk');
    rmSync(exp);
    rmSync(disk);
    assert.equal((await d.cli('start', 'vm1')).code, 0);
  });

  test('restore: as a new instance (boots with the files), over an existing one only with --force', async () => {
    const id = ids.at(-1)!;
    const r = await d.cli('backup', 'restore', id, '--as', 'vm2', '--start', '--quiet');
    assert.equal(r.code, 0, r.stderr);
    const vm2 = await d.cliJson<{ state: string; addresses: string[]; id: string }>('info', 'vm2');
    assert.equal(vm2.state, 'running');
    assert.notEqual(vm2.addresses[0], addr, 'a new address');
    const out = await sshUntil(key.key, vm2.addresses[0]!, 120_000, 'cat /root/second /root/third');
    assert.equal(out.stdout, 'after-restart\nafter-stop-start\n');
    const refused = await d.cli('backup', 'restore', id, '--as', 'vm2');
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /exists: restore over it with --force/);
    const forced = await d.cli('backup', 'restore', ids[0]!, '--as', 'vm2', '--force', '--quiet');
    assert.equal(forced.code, 0, forced.stderr);
    const again = await d.cliJson<{ state: string; addresses: string[]; id: string }>('info', 'vm2');
    assert.equal(again.id, vm2.id, 'the same instance, its root replaced');
    assert.equal(again.state, 'running');
    const gone = await sshUntil(key.key, again.addresses[0]!, 120_000, 'test -e /root/marker && echo yes || echo no');
    assert.equal(gone.stdout, 'no\n', 'the first backup had no marker');
    assert.equal((await d.cli('delete', 'vm2', '--force')).code, 0);
  });

  test('a container: its tree backed up running, restored as a new container, single files from the catalog', async () => {
    assert.equal((await d.cli('launch', 'tiny', 'ct1', '--container', '--quiet')).code, 0);
    assert.equal((await d.cli('exec', 'ct1', '--', 'sh', '-c', 'echo in-container > /root/ct-marker && chown 1000:1000 /root/ct-marker')).code, 0);
    const b = await backup('ct1');
    assert.deepEqual(b.archives.map((a) => a.name).sort(), ['catalog', 'root.tar']);
    const f = join(work, 'ct-marker');
    assert.equal((await d.cli('backup', 'file', b.id, '/root/ct-marker', f)).code, 0);
    assert.equal(readFileSync(f, 'utf8'), 'in-container\n');
    const r = await d.cli('backup', 'restore', b.id, '--as', 'ct2', '--start', '--quiet');
    assert.equal(r.code, 0, r.stderr);
    const cat = await d.cli('exec', 'ct2', '--', 'sh', '-c', 'cat /root/ct-marker; stat -c %u:%g /root/ct-marker');
    assert.equal(cat.stdout, 'in-container\n1000:1000\n');
    const tar = join(work, 'ct.tar');
    assert.equal((await d.cli('backup', 'export', b.id, tar, '--format', 'tar')).code, 0);
    const list = await runArgv(['tar', '-tvf', tar]);
    assert.match(list.stdout, /1000\/1000 .*root\/ct-marker/);
    assert.equal((await d.cli('delete', 'ct2', '--force')).code, 0);
  });

  test('verify finds a flipped byte and names the backups it breaks; prune and gc reclaim', async () => {
    const ok = await d.cliJson<Op>('backup', 'verify', '--store', 'bk');
    assert.equal(ok.status, 'success');
    assert.equal((ok.result as { ok: boolean }).ok, true);
    const victim = chunkFiles(storeDir).sort((a, b) => statSync(b).size - statSync(a).size)[0]!;
    const buf = readFileSync(victim);
    buf[Math.floor(buf.length / 2)]! ^= 0xff;
    writeFileSync(victim, buf);
    const bad = await d.cli('backup', 'verify', '--store', 'bk', '--all', '-o', 'json');
    assert.equal(bad.code, 1, 'a failed verify exits 1');
    const rep = (JSON.parse(bad.stdout) as Op).result as { corrupt: string[]; broken: { id: string }[] };
    assert.deepEqual(rep.corrupt, [victim.slice(-64)]);
    assert.ok(rep.broken.length >= 1);
    const info = await d.cliJson<{ verified?: { ok: boolean } }>('backup', 'info', rep.broken[0]!.id);
    assert.equal(info.verified?.ok, false);
    assert.ok(existsSync(`${victim}.bad`) && !existsSync(victim), 'the corrupt chunk is moved aside: the next backup of that data writes it again');
    const dry = await d.cliJson<{ keep: { id: string }[]; remove: { id: string }[] }>('backup', 'prune', '--store', 'bk', '--instance', 'vm1', '--keep-last', '1', '--dry-run');
    const vm1Backups = (await d.cliJson<{ id: string; instance: { name: string } }[]>('backup', 'list', '--instance', 'vm1')).map((b) => b.id);
    assert.deepEqual(dry.keep.map((k) => k.id), [vm1Backups[0]], 'keep-last 1 keeps the newest');
    assert.deepEqual(dry.remove.map((k) => k.id).sort(), vm1Backups.slice(1).sort());
    assert.equal((await d.cliJson<unknown[]>('backup', 'list', '--instance', 'vm1')).length, vm1Backups.length, 'a dry run removes nothing');
    const before = chunkFiles(storeDir).length;
    await d.cliJson('backup', 'prune', '--store', 'bk', '--instance', 'vm1', '--keep-last', '1');
    const gc = await d.cliJson<Op>('backup', 'gc', '--store', 'bk', '--grace', '0');
    assert.equal(gc.status, 'success');
    assert.ok(chunkFiles(storeDir).length < before, 'gc removed chunks');
    // The backups the flipped chunk broke and prune kept go too: the largest chunk may belong to a deleted
    // container, whose data no later backup writes again, and the tests below verify the whole store.
    for (const b of rep.broken) await d.cli('backup', 'delete', b.id, '--store', 'bk');
  });

  test('a daemon killed mid-backup: the store verifies clean after a restart and the next backup succeeds', async () => {
    const op = await d.api('POST', '/instances/vm1/backups', { store: 'bk', full: true });
    assert.equal(op.status, 202);
    await sleep(700);
    await d.stop('SIGKILL');
    await d.launch();
    const full = await backup('vm1', '--full');
    assert.equal(full.mode, 'full');
    const v = await d.cliJson<Op>('backup', 'verify', '--store', 'bk', '--all');
    assert.equal((v.result as { ok: boolean; missing: string[]; corrupt: string[] }).ok, true, JSON.stringify(v.result));
  });

  test('a full datastore disk fails the backup cleanly; earlier backups stay intact', async () => {
    const small = join(work, 'small');
    mkdirSync(small);
    await runArgv(['mount', '-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', small]);
    assert.equal((await d.cli('backup', 'store', 'create', 'tiny', '--path', join(small, 'ds'))).code, 0);
    const full = await d.cli('backup', 'create', 'vm1', '--store', 'tiny', '--quiet');
    assert.notEqual(full.code, 0, 'no room');
    assert.match(full.stderr, /no space left/);
    assert.deepEqual(readdirSync(join(small, 'ds', 'snapshots')).filter((x) => x !== '.tmp'), [], 'no backup left half-written');
    assert.ok(!existsSync(join(small, 'ds', 'tmp')) || readdirSync(join(small, 'ds', 'tmp')).length === 0, 'no temporary files left');
    assert.equal((await d.cli('backup', 'store', 'delete', 'tiny')).code, 0);
    const v = await d.cliJson<Op>('backup', 'verify', '--store', 'bk', '--all');
    assert.equal((v.result as { ok: boolean }).ok, true);
  });

  test('sync pulls only missing backups and chunks from another daemon; another key is refused', async () => {
    const other = await TestDaemon.start();
    try {
      const plain = join(work, 'plain');
      const mirror = join(work, 'mirror');
      assert.equal((await d.cli('backup', 'store', 'create', 'plain', '--path', plain)).code, 0);
      const first = await d.cliJson<Op>('backup', 'create', 'ct1', '--store', 'plain');
      assert.equal(first.status, 'success');
      assert.equal((await other.cli('backup', 'store', 'create', 'mirror', '--path', mirror)).code, 0);
      writeFileSync(join(work, 'token'), `${d.token}\n`, { mode: 0o600 });
      const s1 = await other.cliJson<Op>('backup', 'store', 'sync', 'mirror', '--from', d.url, '--remote-store', 'plain', '--remote-token-file', join(work, 'token'));
      assert.equal(s1.status, 'success', JSON.stringify(s1.error));
      const r1 = s1.result as { backups: number; chunks: number };
      assert.equal(r1.backups, 1);
      assert.equal(chunkFiles(mirror).length, chunkFiles(plain).length);
      await d.cli('exec', 'ct1', '--', 'sh', '-c', 'echo more > /root/more');
      assert.equal((await d.cliJson<Op>('backup', 'create', 'ct1', '--store', 'plain')).status, 'success');
      const s2 = await other.cliJson<Op>('backup', 'store', 'sync', 'mirror', '--from', d.url, '--remote-store', 'plain', '--remote-token-file', join(work, 'token'));
      const r2 = s2.result as { backups: number; chunks: number; skipped: number };
      assert.equal(r2.backups, 1);
      assert.equal(r2.skipped, 1);
      assert.ok(r2.chunks < r1.chunks, `only the missing chunks: ${r2.chunks} of ${r1.chunks}`);
      const listed = (await other.api('GET', '/backups')).body.backups as { id: string }[];
      assert.equal(listed.length, 2);
      // The encrypted store has another key: refused, nothing pulled.
      const refused = await other.cliJson<Op>('backup', 'store', 'sync', 'mirror', '--from', d.url, '--remote-store', 'bk', '--remote-token-file', join(work, 'token')).catch((e: Error) => ({ status: 'failure', error: { message: e.message } }));
      assert.equal(refused.status, 'failure');
      assert.match(JSON.stringify(refused), /same key/);
    } finally {
      await other.cleanup();
    }
  });
});
