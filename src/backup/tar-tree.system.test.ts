// Tree backups on a real filesystem (root: owners, devices): tarTree -> file -> extractTar into
// another id range gives the same tree; GNU tar reads our stream and we read GNU tar's; the
// catalog's byte ranges hold the files' data; hostile archives are refused with nothing written
// outside the target.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { chmod, lchown, link, lutimes, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RealExec } from '../host/exec.js';
import { encodeHeader, END_OF_ARCHIVE, paddingOf, type TarHeader } from './tar-format.js';
import { extractTar } from './tar-extract.js';
import { catalogFile, catalogList } from './tar-catalog.js';
import { tarTree } from './tar-writer.js';

const ci = process.env.CI === 'true';
const skip = ci ? false : process.getuid?.() !== 0 ? 'needs root' : false;
const exec = new RealExec();
const A = 1_200_000; // source container's host range
const B = 1_400_000; // restored container's host range
const N = 65536;

const py = (code: string, ...args: string[]) => exec.run(['python3', '-c', code, ...args]);
const setXattr = (p: string, name: string, hex: string) => py('import os,sys; os.setxattr(sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3]), follow_symlinks=False)', p, name, hex);
const CAP = '0100000200040000000000000000000000000000'; // v2, permitted cap_net_bind_service

/** A tree with every entry type, long names, xattrs, owners in and outside the range. */
async function makeTree(root: string): Promise<void> {
  const own = (p: string, u: number, g = u) => lchown(p, u, g);
  mkdirSync(join(root, 'etc/sub'), { recursive: true });
  await own(root, A);
  await chmod(root, 0o755);
  await own(join(root, 'etc'), A);
  await own(join(root, 'etc/sub'), A + 1000, A + 1001);
  await chmod(join(root, 'etc/sub'), 0o2750);
  writeFileSync(join(root, 'etc/big'), randomBytes(3 * 1024 * 1024 + 77));
  await own(join(root, 'etc/big'), A + 1000, A + 1001);
  writeFileSync(join(root, 'etc/empty'), '');
  await own(join(root, 'etc/empty'), A);
  writeFileSync(join(root, 'etc/suid'), '#!/bin/sh\n');
  await own(join(root, 'etc/suid'), A);
  await chmod(join(root, 'etc/suid'), 0o4755);
  writeFileSync(join(root, 'etc/stranger'), 'x');
  await own(join(root, 'etc/stranger'), 5, 7); // outside the range: 65534
  await link(join(root, 'etc/suid'), join(root, 'etc/sub/suid-link'));
  await symlink('/etc/big', join(root, 'etc/abs-link'));
  await symlink(`../${'t'.repeat(140)}`, join(root, 'etc/long-target'));
  await lchown(join(root, 'etc/abs-link'), A + 1, A + 1);
  await lchown(join(root, 'etc/long-target'), A, A);
  const deep = join(root, 'd'.repeat(90), 'e'.repeat(90));
  mkdirSync(deep, { recursive: true });
  for (const d of [join(root, 'd'.repeat(90)), deep]) await own(d, A);
  writeFileSync(join(deep, 'f'.repeat(120)), 'deep');
  await own(join(deep, 'f'.repeat(120)), A + 33);
  writeFileSync(join(root, 'etc/ü ñ'), 'utf8 name');
  await own(join(root, 'etc/ü ñ'), A);
  await exec.run(['mknod', '-m', '0666', join(root, 'etc/null'), 'c', '1', '3']);
  await exec.run(['mknod', '-m', '0660', join(root, 'etc/loop9'), 'b', '7', '9']);
  await exec.run(['mknod', '-m', '0620', join(root, 'etc/fifo'), 'p']);
  for (const d of ['null', 'loop9', 'fifo']) await own(join(root, 'etc', d), A, A + 6);
  await py('import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', join(root, 'etc/sock'));
  await setXattr(join(root, 'etc/suid'), 'user.note', Buffer.from('hello').toString('hex'));
  await setXattr(join(root, 'etc/big'), 'security.capability', CAP);
  await setXattr(join(root, 'etc/sub'), 'user.dir', '00ff');
  await setXattr(join(root, 'etc/empty'), 'trusted.secret', '01'); // never travels
  await lutimes(join(root, 'etc/abs-link'), 1_600_000_000, 1_600_000_000);
  await lutimes(join(root, 'etc/empty'), -86_400 * 400, -86_400 * 400); // before 1970: a pax mtime record
}

interface Seen { type: string; mode: number; uid: number; gid: number; mtime: number; size: number; sha?: string; link?: string; rdev?: number; ino: number; xattrs: string }

/** Every entry under root with container-relative owners (host id - base), content hashes and kept xattrs. */
async function snapshot(root: string, base: number): Promise<Map<string, Seen>> {
  const x = (await py(`
import os,sys,json
r=sys.argv[1]; out={}
for d,ds,fs in os.walk(r):
  for n in [''] + ds + fs if d == r else ds + fs:
    p=os.path.join(d,n) if n else d
    try: out[os.path.relpath(p,r)]=sorted('%s=%s'%(k,os.getxattr(p,k,follow_symlinks=False).hex()) for k in os.listxattr(p,follow_symlinks=False) if k=='security.capability' or k.startswith('user.'))
    except OSError: out[os.path.relpath(p,r)]=[]
print(json.dumps(out))`, root)).stdout;
  const xattrs = JSON.parse(x) as Record<string, string[]>;
  const out = new Map<string, Seen>();
  const walk = (rel: string) => {
    const p = rel ? join(root, rel) : root;
    const st = lstatSync(p);
    const type = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isCharacterDevice() ? 'char' : st.isBlockDevice() ? 'block' : st.isFIFO() ? 'fifo' : 'socket';
    if (type === 'socket') return;
    const rid = (id: number) => (id >= base && id < base + N ? id - base : `host:${id}`) as number;
    out.set(rel || '.', {
      type, mode: st.mode & 0o7777, uid: rid(st.uid), gid: rid(st.gid), mtime: Math.floor(st.mtimeMs / 1000), size: type === 'file' ? st.size : 0, ino: st.ino,
      ...(type === 'file' ? { sha: createHash('sha256').update(readFileSync(p)).digest('hex') } : {}),
      ...(type === 'symlink' ? { link: readlinkSync(p) } : {}),
      ...(type === 'char' || type === 'block' ? { rdev: st.rdev } : {}),
      xattrs: (xattrs[rel || '.'] ?? []).join(','),
    });
    if (type === 'dir') for (const n of readdirSync(p).sort()) walk(rel ? `${rel}/${n}` : n);
  };
  walk('');
  return out;
}

/** Same trees: everything but inode numbers, which must only pair up the same way (hardlinks). */
function assertSameTree(a: Map<string, Seen>, b: Map<string, Seen>, fix: (path: string, s: Seen) => Seen = (_p, s) => s): void {
  const strip = (m: Map<string, Seen>) => [...m].map(([p, s]) => [p, { ...fix(p, s), ino: [...m].filter(([, t]) => t.ino === s.ino).map(([q]) => q).join('|') }] as const);
  assert.deepEqual(strip(b), strip(a));
}

test('tree backup: every entry type round-trips into another id range; GNU tar reads it; catalog ranges; GNU tar archives extract', { skip, timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-tar-'));
  try {
    const src = join(dir, 'src');
    mkdirSync(src);
    await makeTree(src);
    const tarFile = join(dir, 'tree.tar');
    const catFile = join(dir, 'tree.catalog');
    const lines: string[] = [];
    const { stream, done } = tarTree(src, { idBase: A, idCount: N, exec, catalog: createWriteStream(catFile), log: (l) => lines.push(l) });
    await pipeline(stream, createWriteStream(tarFile));
    const stats = await done;
    t.diagnostic(JSON.stringify(stats));
    assert.equal(stats.socketsSkipped, 1);
    assert.equal(stats.unmappedIds, 2, 'uid and gid of etc/stranger');
    assert.ok(lines.some((l) => /outside the container's range.*\/etc\/stranger/.test(l)), lines.join('\n'));
    assert.equal(stats.tarBytes, lstatSync(tarFile).size);

    // Our extraction into range B.
    const out = join(dir, 'out');
    mkdirSync(out);
    const ex = await extractTar(createReadStream(tarFile), out, { idBase: B, idCount: N, exec });
    assert.equal(ex.entries, stats.entries);
    const before = await snapshot(src, A);
    assert.equal(before.get('etc/empty')!.xattrs, '', 'trusted.* is not listed');
    assert.ok(before.get('etc/big')!.xattrs.includes('security.capability'), 'the test tree has a capability');
    const nobody = (p: string, s: Seen) => (p === 'etc/stranger' ? { ...s, uid: 65534, gid: 65534 } : s);
    assertSameTree(before, await snapshot(out, B), nobody);
    assert.equal(lstatSync(join(out, 'etc/suid')).mode & 0o7777, 0o4755, 'setuid kept after chown');

    // GNU tar lists the same entries with the container's ids, and extracts the same tree.
    const listing = (await exec.run(['tar', '--numeric-owner', '-tvf', tarFile])).stdout;
    assert.match(listing, /^-rwsr-xr-x 0\/0 .* \.\/etc\/sub\/suid-link$/m); // 'sub' sorts before 'suid': the first name
    assert.match(listing, /^-rw-r--r-- 1000\/1001 +3145805 .* \.\/etc\/big$/m);
    assert.match(listing, /^crw-rw-rw- 0\/6 +1,3 .* \.\/etc\/null$/m);
    assert.match(listing, /^hrwsr-xr-x 0\/0 .* \.\/etc\/suid link to \.\/etc\/sub\/suid-link$/m);
    assert.match(listing, new RegExp(`\\./d{90}/e{90}/f{120}$`, 'm'));
    const gnu = join(dir, 'gnu');
    mkdirSync(gnu);
    await exec.run(['tar', '--numeric-owner', '--xattrs', '--xattrs-include=*', '-xpf', tarFile, '-C', gnu]);
    assertSameTree(before, await snapshot(gnu, 0), (p, s) => nobody(p, s));

    // The catalog: listing, and a file's bytes by range straight out of the tar stream.
    const cat = readFileSync(catFile, 'utf8').trim().split('\n');
    assert.equal(cat.length, stats.entries);
    assert.deepEqual((await catalogList(createReadStream(catFile), '/etc/sub')).map((e) => [e.path, e.type]), [['/etc/sub/suid-link', 'file']]);
    const tarBytes = readFileSync(tarFile);
    for (const p of ['/etc/big', '/etc/suid', `/${'d'.repeat(90)}/${'e'.repeat(90)}/${'f'.repeat(120)}`]) {
      const r = await catalogFile(createReadStream(catFile), p);
      const want = readFileSync(join(src, p));
      assert.ok(tarBytes.subarray(r.dataOffset, r.dataOffset + r.size).equals(want), p);
    }

    // An archive GNU tar made (pax, and gnu format with its long-name entries) extracts to the same tree.
    for (const format of ['posix', 'gnu']) {
      const g = join(dir, `by-gnu-${format}.tar`);
      await exec.run(['tar', `--format=${format}`, '--numeric-owner', '--xattrs', '-cf', g, '-C', gnu, '.']);
      const o2 = join(dir, `out-${format}`);
      mkdirSync(o2);
      await extractTar(createReadStream(g), o2, { idBase: B, idCount: N, exec });
      const fixFifo = (p: string, s: Seen) => nobody(p, s);
      assertSameTree(before, await snapshot(o2, B), format === 'posix' ? fixFifo : (p, s) => ({ ...fixFifo(p, s), xattrs: '' }));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** An archive built entry by entry (what a hostile backup could hold). */
function archive(entries: Array<Partial<TarHeader> & { name: string; data?: string }>): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = Buffer.from(e.data ?? '');
    parts.push(encodeHeader({ type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 1, ...e, size: data.length }), data, paddingOf(data.length));
  }
  return Buffer.concat([...parts, END_OF_ARCHIVE]);
}

test('tree extraction refuses hostile archives and writes nothing outside the target', { skip, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-tarx-'));
  try {
    const outside = join(dir, 'outside');
    mkdirSync(outside);
    await writeFile(join(outside, 'keep'), 'original');
    const cases: Array<[string, Buffer, RegExp]> = [
      ['dot-dot', archive([{ name: './ok', data: 'x' }, { name: '../outside/evil', data: 'x' }]), /leads outside the target/],
      ['absolute', archive([{ name: `${outside}/evil`, data: 'x' }]), /absolute path/],
      ['symlink then a file through it', archive([{ name: 'l', type: 'symlink', linkname: outside }, { name: 'l/keep', data: 'pwned' }]), /parent \/l is not a directory/],
      ['symlink then a dir through it', archive([{ name: 'l', type: 'symlink', linkname: outside }, { name: 'l/sub/', type: 'dir', mode: 0o755 }]), /parent \/l is not a directory/],
      ['hardlink to outside', archive([{ name: 'h', type: 'hardlink', linkname: '../outside/keep' }]), /outside the target/],
      ['hardlink to a path through a symlink', archive([{ name: 'l', type: 'symlink', linkname: outside }, { name: 'h', type: 'hardlink', linkname: 'l/keep' }]), /not an earlier file/],
      ['hardlink to a missing entry', archive([{ name: 'h', type: 'hardlink', linkname: 'nope' }]), /not an earlier file/],
      ['file over a symlink', archive([{ name: 'l', type: 'symlink', linkname: join(outside, 'keep') }, { name: 'l', data: 'pwned' }]), /appears twice/],
      ['truncated', archive([{ name: 'f', data: 'x'.repeat(2000) }]).subarray(0, 1024), /truncated/],
      ['not a tar', Buffer.from('hello'.repeat(200)), /truncated|not a tar archive/],
    ];
    for (const [what, bytes, err] of cases) {
      const target = join(dir, `t-${what.replace(/\W+/g, '-')}`);
      mkdirSync(target);
      await assert.rejects(extractTar(Readable.from([bytes]), target, { idBase: B, idCount: N, exec }), err, what);
      assert.deepEqual(readdirSync(outside), ['keep'], what);
      assert.equal(readFileSync(join(outside, 'keep'), 'utf8'), 'original', what);
    }
    const full = join(dir, 'not-empty');
    mkdirSync(full);
    writeFileSync(join(full, 'x'), '');
    await assert.rejects(extractTar(Readable.from([archive([])]), full, { idBase: B, idCount: N, exec }), /is not empty/);
    assert.ok(existsSync(join(full, 'x')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a tree that changes while it is tarred (a running container) still gives a well-formed archive', { skip, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-tarc-'));
  try {
    const src = join(dir, 'src');
    mkdirSync(join(src, 'b-dir'), { recursive: true });
    writeFileSync(join(src, 'a-big'), randomBytes(3 * 1024 * 1024));
    writeFileSync(join(src, 'b-dir/x'), 'x');
    writeFileSync(join(src, 'c-file'), 'c');
    writeFileSync(join(src, 'd-file'), 'd');
    const { stream, done } = tarTree(src, { idBase: 0, idCount: N, exec, xattrs: false });
    const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    const chunks: Buffer[] = [];
    let got = 0;
    while (got < 1024 * 1024) {
      const r = await it.next();
      assert.ok(!r.done);
      chunks.push(r.value);
      got += r.value.length;
    }
    // The walk waits for the consumer: a-big is open and partly read, the rest not yet looked at.
    await exec.run(['truncate', '-s', String(1024 * 1024), join(src, 'a-big')]);
    rmSync(join(src, 'b-dir'), { recursive: true });
    rmSync(join(src, 'c-file'));
    for (let r = await it.next(); !r.done; r = await it.next()) chunks.push(r.value);
    const stats = await done;
    assert.deepEqual([stats.changed, stats.skipped, stats.entries], [1, 2, 3]);
    const tarFile = join(dir, 'c.tar');
    writeFileSync(tarFile, Buffer.concat(chunks));
    const listing = (await exec.run(['tar', '-tvf', tarFile])).stdout;
    assert.match(listing, / 3145728 .* \.\/a-big\n.* \.\/d-file\n$/);
    const out = join(dir, 'out');
    mkdirSync(out);
    await exec.run(['tar', '-xf', tarFile, '-C', out]);
    const big = readFileSync(join(out, 'a-big'));
    // The stream reads at most one 1 MiB chunk ahead of the consumer: the last MiB was read after the truncation.
    assert.ok(big.subarray(2 * 1024 * 1024).equals(Buffer.alloc(1024 * 1024)), 'the shrunk tail is zeros');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
