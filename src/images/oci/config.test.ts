import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { DEFAULT_PATH, parseImageConfig, readFileInRoot, readUserDb, resolveProcess, type OciImageConfig } from './config.js';

const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  '# comment',
  'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
  'app:x:1000:1000::/home/app:/bin/sh',
  'broken line',
  'nohome:x:1001:1001:::/bin/sh',
].join('\n');
const GROUP = ['root:x:0:', 'staff:x:50:app', 'app:x:1000:', 'video:x:44:app,daemon', 'wheel:x:10:root'].join('\n');

const cfg = (o: Partial<OciImageConfig> = {}) => ({ entrypoint: [], cmd: [], env: [], workingDir: '', user: '', ...o });

test('parseImageConfig: fields, defaults, errors', () => {
  const c = parseImageConfig(JSON.stringify({
    architecture: 'amd64', os: 'linux',
    config: {
      User: 'app', Env: ['A=1'], Entrypoint: ['/bin/sh', '-c'], Cmd: null, WorkingDir: '/srv',
      ExposedPorts: { '8080/tcp': {}, '53/udp': {} }, Volumes: { '/data': {} }, StopSignal: 'SIGQUIT', Labels: { a: 'b', n: 1 },
    },
  }));
  assert.deepEqual(c, {
    entrypoint: ['/bin/sh', '-c'], cmd: [], env: ['A=1'], workingDir: '/srv', user: 'app',
    exposedPorts: ['53/udp', '8080/tcp'], volumes: ['/data'], labels: { a: 'b' }, architecture: 'amd64', os: 'linux', stopSignal: 'SIGQUIT',
  });
  const empty = parseImageConfig('{"rootfs":{}}');
  assert.deepEqual([empty.entrypoint, empty.cmd, empty.env, empty.user, empty.workingDir, empty.stopSignal], [[], [], [], '', '', undefined]);
  assert.throws(() => parseImageConfig('nope'), { code: 'InvalidArgument', message: /not valid JSON/ });
  assert.throws(() => parseImageConfig('[]'), /not a JSON object/);
  assert.throws(() => parseImageConfig({ config: { Cmd: 'echo hi' } }), /Cmd must be a list of strings/);
});

test('resolveProcess: entrypoint/cmd and overrides, docker semantics', () => {
  const c = cfg({ entrypoint: ['/bin/busybox'], cmd: ['echo', 'hi'] });
  assert.deepEqual(resolveProcess(c).args, ['/bin/busybox', 'echo', 'hi']);
  assert.deepEqual(resolveProcess(c, { cmd: ['true'] }).args, ['/bin/busybox', 'true']);
  assert.deepEqual(resolveProcess(c, { entrypoint: ['/bin/sh'] }).args, ['/bin/sh'], 'a new entrypoint drops the image cmd');
  assert.deepEqual(resolveProcess(c, { entrypoint: ['/bin/sh'], cmd: ['-c', 'x'] }).args, ['/bin/sh', '-c', 'x']);
  assert.deepEqual(resolveProcess(c, { entrypoint: [], cmd: ['ls'] }).args, ['ls']);
  assert.throws(() => resolveProcess(cfg()), { code: 'InvalidArgument', message: /no command to run/ });
  assert.throws(() => resolveProcess(c, { entrypoint: [] }), /no command to run/);
});

test('resolveProcess: env merge, PATH and HOME defaults, cwd', () => {
  const c = cfg({ cmd: ['x'], env: ['A=1', 'B=2', 'BARE'], workingDir: '/srv' });
  const p = resolveProcess(c, { env: ['B=3', 'C=a=b'] });
  assert.deepEqual(p.env, [DEFAULT_PATH, 'A=1', 'B=3', 'C=a=b', 'HOME=/']);
  assert.equal(p.cwd, '/srv');
  const q = resolveProcess(cfg({ cmd: ['x'], env: ['PATH=/bin', 'HOME=/h'] }), { workingDir: '/tmp' }, PASSWD);
  assert.deepEqual(q.env, ['PATH=/bin', 'HOME=/h']);
  assert.equal(q.cwd, '/tmp');
  assert.equal(resolveProcess(cfg({ cmd: ['x'] })).cwd, '/');
  assert.equal(resolveProcess(cfg({ cmd: ['x'] }), {}, PASSWD).env.at(-1), 'HOME=/root', 'root by default');
  assert.throws(() => resolveProcess(c, { env: ['NOVALUE'] }), /expected KEY=VALUE/);
  assert.throws(() => resolveProcess(c, { workingDir: 'rel' }), /absolute/);
});

test('resolveProcess: users and groups', () => {
  const r = (user: string, passwd: string | undefined = PASSWD, group: string | undefined = GROUP) =>
    resolveProcess(cfg({ cmd: ['x'], user }), {}, passwd, group);
  const pick = (p: ReturnType<typeof r>) => [p.uid, p.gid, p.additionalGids, p.home];
  assert.deepEqual(pick(r('')), [0, 0, [10], '/root']);
  assert.deepEqual(pick(r('app')), [1000, 1000, [50, 44], '/home/app']);
  assert.deepEqual(pick(r('1000')), [1000, 1000, [50, 44], '/home/app'], 'a uid in passwd gets its gid and home');
  assert.deepEqual(pick(r('4242')), [4242, 0, [], '/'], 'a uid not in passwd is fine');
  assert.deepEqual(pick(resolveProcess(cfg({ cmd: ['x'], user: '4242' }))), [4242, 0, [], '/'], 'no passwd needed for a uid');
  assert.deepEqual(pick(r('app:staff')), [1000, 50, [], '/home/app'], 'an explicit group drops supplementary groups');
  assert.deepEqual(pick(r('1000:7')), [1000, 7, [], '/home/app']);
  assert.deepEqual(pick(r('nohome')), [1001, 1001, [], '/']);
  assert.equal(resolveProcess(cfg({ cmd: ['x'], user: 'root' }), { user: 'daemon' }, PASSWD).uid, 1, 'override wins');
  assert.throws(() => r('nobody'), { code: 'InvalidArgument', message: /unknown user "nobody"/ });
  assert.throws(() => resolveProcess(cfg({ cmd: ['x'], user: 'app' })), /has no \/etc\/passwd/);
  assert.throws(() => r('app:nogroup'), /unknown group "nogroup"/);
  assert.throws(() => resolveProcess(cfg({ cmd: ['x'], user: 'app:staff' }), {}, PASSWD), /has no \/etc\/group/);
  assert.throws(() => r('a:b:c'), /bad user/);
  assert.throws(() => r(':5'), /no user before the colon/);
  assert.throws(() => r('app:'), /no group after the colon/);
  assert.throws(() => r('99999999999'), /out of range/);
});

test('readFileInRoot: symlinks resolve inside the rootfs only', async () => {
  const d = await mkdtemp(join(tmpdir(), 'nimbo-ociroot-'));
  try {
    const root = join(d, 'rootfs');
    await mkdir(join(root, 'etc'), { recursive: true });
    await mkdir(join(d, 'outside'));
    await writeFile(join(d, 'outside', 'secret'), 'HOST SECRET');
    await writeFile(join(root, 'etc', 'real-passwd'), PASSWD);
    await writeFile(join(root, 'secret'), 'in-root');
    await symlink('real-passwd', join(root, 'etc', 'passwd'));
    await symlink('/secret', join(root, 'etc', 'group')); // absolute: re-rooted
    await symlink('../../../../outside/secret', join(root, 'up'));
    await symlink('/etc/../../../outside', join(root, 'dirlink'));
    await symlink('loop', join(root, 'loop'));
    assert.equal(await readFileInRoot(root, '/etc/passwd'), PASSWD);
    assert.equal(await readFileInRoot(root, '/etc/group'), 'in-root');
    assert.equal(await readFileInRoot(root, '/up'), undefined, '../ cannot climb out');
    assert.equal(await readFileInRoot(root, '/dirlink/secret'), undefined);
    assert.equal(await readFileInRoot(root, '/loop'), undefined);
    assert.equal(await readFileInRoot(root, '/etc'), undefined, 'directories are not read');
    assert.equal(await readFileInRoot(root, '/etc/passwd', 10), undefined, 'size limit');
    assert.deepEqual(await readUserDb(root), { passwd: PASSWD, group: 'in-root' });
    assert.deepEqual(await readUserDb(join(d, 'outside')), {});
  } finally {
    await rm(d, { recursive: true, force: true });
  }
});
