import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NimboError } from '../../../lib/errors.js';
import { renderOciConfig, renderOciConfigJson, renderSeccomp, weightToShares, type ContainerSpec } from './oci-config.js';

const MiB = 1024 * 1024;

const systemSpec: ContainerSpec = {
  id: 'web-1',
  kind: 'system',
  hostname: 'web-1',
  rootfs: '/var/lib/nimbo/containers/web-1/rootfs',
  process: {
    args: ['/sbin/init'],
    env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'container=nimbo'],
    cwd: '/',
    uid: 0,
    gid: 0,
    terminal: false,
  },
  idmap: { hostId: 1065536, size: 65536 },
  limits: { cpus: 2, cpuWeight: 100, memoryBytes: 512 * MiB, swapBytes: 0, pids: 1024, blkioWeight: 500 },
  cgroupsPath: '/nimbo-ab12/web-1',
  mounts: [{ source: '/var/lib/nimbo/seeds/web-1', destination: '/run/nimbo-seed', readonly: true }],
};

const appSpec: ContainerSpec = {
  id: 'api.v2_7',
  kind: 'app',
  hostname: 'api',
  rootfs: '/var/lib/nimbo/containers/api/rootfs',
  readonlyRootfs: true,
  process: { args: ['/usr/bin/api-server', '--port', '8080'], env: ['PATH=/usr/bin:/bin', 'MODE=prod'], cwd: '/srv', uid: 1000, gid: 1000 },
  idmap: { hostId: 1131072, size: 65536 },
  netnsPath: '/run/netns/nimbo-api',
  limits: { cpus: 1.5, cpuWeight: 250, memoryBytes: 64 * MiB, pids: 64, nofile: 4096 },
  cgroupsPath: '/nimbo-ab12/api',
  mounts: [
    { source: '/var/lib/nimbo/volumes/api-data', destination: '/srv/data' },
    { source: '/etc/nimbo/ca.pem', destination: '/etc/ssl/nimbo-ca.pem', readonly: true },
  ],
  extraCapabilities: ['CAP_NET_ADMIN', 'CAP_CHOWN', 'CAP_NET_ADMIN'],
};

/** Golden text: the literal below, as JSON.stringify writes it (key order included). */
const golden = (o: unknown): string => `${JSON.stringify(o, null, 2)}\n`;

test('golden: system container on a pure cgroup v1 host (amd64): sysfs, read-only v1 cgroups, tmpfs /run /run/lock /tmp, seed bind mount', () => {
  assert.equal(
    renderOciConfigJson(systemSpec, { cgroupVersion: 1, arch: 'amd64' }),
    golden(
      {
        ociVersion: '1.0.2',
        process: {
          terminal: false,
          user: { uid: 0, gid: 0 },
          args: ['/sbin/init'],
          env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'container=nimbo'],
          cwd: '/',
          capabilities: {
            bounding: ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE'],
            effective: ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE'],
            permitted: ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE'],
          },
          noNewPrivileges: false,
        },
        root: { path: '/var/lib/nimbo/containers/web-1/rootfs', readonly: false },
        hostname: 'web-1',
        mounts: [
          { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
          {
            destination: '/dev',
            type: 'tmpfs',
            source: 'tmpfs',
            options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
          },
          {
            destination: '/dev/pts',
            type: 'devpts',
            source: 'devpts',
            options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
          },
          {
            destination: '/dev/shm',
            type: 'tmpfs',
            source: 'shm',
            options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
          },
          { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
          { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
          {
            destination: '/sys/fs/cgroup',
            type: 'cgroup',
            source: 'cgroup',
            options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'],
          },
          { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=755'] },
          {
            destination: '/run/lock',
            type: 'tmpfs',
            source: 'tmpfs',
            options: ['nosuid', 'nodev', 'noexec', 'mode=1777', 'size=5120k'],
          },
          { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] },
          {
            destination: '/run/nimbo-seed',
            type: 'bind',
            source: '/var/lib/nimbo/seeds/web-1',
            options: ['rbind', 'nosuid', 'nodev', 'ro'],
          },
        ],
        annotations: { 'org.nimbo.container.id': 'web-1', 'org.nimbo.container.kind': 'system' },
        linux: {
          uidMappings: [
            { containerID: 0, hostID: 1065536, size: 65536 },
          ],
          gidMappings: [
            { containerID: 0, hostID: 1065536, size: 65536 },
          ],
          resources: {
            devices: [
              { allow: false, access: 'rwm' },
              { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
              { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
              { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' },
              { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
              { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
              { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
              { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' },
              { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' },
              { allow: true, type: 'c', major: 136, access: 'rwm' },
            ],
            memory: { limit: 536870912, swap: 536870912 },
            cpu: { shares: 1024, quota: 200000, period: 100000 },
            pids: { limit: 1024 },
            blockIO: { weight: 500 },
          },
          cgroupsPath: '/nimbo-ab12/web-1',
          namespaces: [
            { type: 'pid' },
            { type: 'network' },
            { type: 'ipc' },
            { type: 'uts' },
            { type: 'mount' },
            { type: 'user' },
            { type: 'cgroup' },
          ],
          devices: [
            { path: '/dev/null', type: 'c', major: 1, minor: 3, fileMode: 438, uid: 0, gid: 0 },
            { path: '/dev/zero', type: 'c', major: 1, minor: 5, fileMode: 438, uid: 0, gid: 0 },
            { path: '/dev/full', type: 'c', major: 1, minor: 7, fileMode: 438, uid: 0, gid: 0 },
            { path: '/dev/random', type: 'c', major: 1, minor: 8, fileMode: 438, uid: 0, gid: 0 },
            { path: '/dev/urandom', type: 'c', major: 1, minor: 9, fileMode: 438, uid: 0, gid: 0 },
            { path: '/dev/tty', type: 'c', major: 5, minor: 0, fileMode: 438, uid: 0, gid: 0 },
          ],
          seccomp: renderSeccomp('system', 'amd64'), // its own golden test: oci-seccomp.test.ts
          maskedPaths: ['/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap'],
          readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
        },
      },
    ),
  );
});

test('golden: app container on a cgroup v2 host (arm64): joined netns, read-only root, rlimit, extra cap', () => {
  assert.equal(
    renderOciConfigJson(appSpec, { cgroupVersion: 2, arch: 'arm64' }),
    golden(
      {
        ociVersion: '1.0.2',
        process: {
          terminal: false,
          user: { uid: 1000, gid: 1000 },
          args: ['/usr/bin/api-server', '--port', '8080'],
          env: ['PATH=/usr/bin:/bin', 'MODE=prod'],
          cwd: '/srv',
          capabilities: {
            bounding: ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE', 'CAP_NET_ADMIN'],
            effective: ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE', 'CAP_NET_ADMIN'],
            permitted: ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE', 'CAP_NET_ADMIN'],
          },
          rlimits: [
            { type: 'RLIMIT_NOFILE', hard: 4096, soft: 4096 },
          ],
          noNewPrivileges: true,
        },
        root: { path: '/var/lib/nimbo/containers/api/rootfs', readonly: true },
        hostname: 'api',
        mounts: [
          { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
          {
            destination: '/dev',
            type: 'tmpfs',
            source: 'tmpfs',
            options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
          },
          {
            destination: '/dev/pts',
            type: 'devpts',
            source: 'devpts',
            options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
          },
          {
            destination: '/dev/shm',
            type: 'tmpfs',
            source: 'shm',
            options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
          },
          { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
          { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] },
          {
            destination: '/sys/fs/cgroup',
            type: 'cgroup',
            source: 'cgroup',
            options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'],
          },
          {
            destination: '/srv/data',
            type: 'bind',
            source: '/var/lib/nimbo/volumes/api-data',
            options: ['rbind', 'nosuid', 'nodev', 'rw'],
          },
          {
            destination: '/etc/ssl/nimbo-ca.pem',
            type: 'bind',
            source: '/etc/nimbo/ca.pem',
            options: ['rbind', 'nosuid', 'nodev', 'ro'],
          },
        ],
        annotations: { 'org.nimbo.container.id': 'api.v2_7', 'org.nimbo.container.kind': 'app' },
        linux: {
          uidMappings: [
            { containerID: 0, hostID: 1131072, size: 65536 },
          ],
          gidMappings: [
            { containerID: 0, hostID: 1131072, size: 65536 },
          ],
          resources: {
            devices: [
              { allow: false, access: 'rwm' },
              { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
              { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
              { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' },
              { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
              { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
              { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
              { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' },
              { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' },
              { allow: true, type: 'c', major: 136, access: 'rwm' },
            ],
            memory: { limit: 67108864 },
            cpu: { shares: 2560, quota: 150000, period: 100000 },
            pids: { limit: 64 },
            unified: { 'cpu.weight': '250' },
          },
          cgroupsPath: '/nimbo-ab12/api',
          namespaces: [
            { type: 'pid' },
            { type: 'network', path: '/run/netns/nimbo-api' },
            { type: 'ipc' },
            { type: 'uts' },
            { type: 'mount' },
            { type: 'user' },
            { type: 'cgroup' },
          ],
          devices: [
            { path: '/dev/null', type: 'c', major: 1, minor: 3, fileMode: 438, uid: 0, gid: 0 },
            { path: '/dev/zero', type: 'c', major: 1, minor: 5, fileMode: 438, uid: 0, gid: 0 },
            { path: '/dev/full', type: 'c', major: 1, minor: 7, fileMode: 438, uid: 0, gid: 0 },
            { path: '/dev/random', type: 'c', major: 1, minor: 8, fileMode: 438, uid: 0, gid: 0 },
            { path: '/dev/urandom', type: 'c', major: 1, minor: 9, fileMode: 438, uid: 0, gid: 0 },
            { path: '/dev/tty', type: 'c', major: 5, minor: 0, fileMode: 438, uid: 0, gid: 0 },
          ],
          seccomp: renderSeccomp('app', 'arm64'), // its own golden test: oci-seccomp.test.ts
          maskedPaths: ['/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap'],
          readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
        },
      },
    ),
  );
});

test('system containers get their own writable cgroup2 tree where the host has one (v2, or hybrid with /sys/fs/cgroup/unified)', () => {
  const cg = (c: ReturnType<typeof renderOciConfig>) => c.mounts.filter((m) => m.destination.startsWith('/sys/fs/cgroup'));
  const delegated = [{ destination: '/sys/fs/cgroup', type: 'cgroup2', source: 'cgroup2', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'rw'] }];
  const readOnly = [{ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] }];
  const hybrid = renderOciConfig(systemSpec, { cgroupVersion: 1, unifiedCgroup: true });
  assert.deepEqual(cg(hybrid), delegated);
  assert.deepEqual(cg(renderOciConfig(systemSpec, { cgroupVersion: 2 })), delegated);
  assert.deepEqual(cg(renderOciConfig(systemSpec, { cgroupVersion: 1 })), readOnly);
  // The cgroup2 tree comes right after /sys, before /run: the same order on every host.
  assert.deepEqual(hybrid.mounts.map((m) => m.destination), ['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/sys/fs/cgroup', '/run', '/run/lock', '/tmp', '/run/nimbo-seed']);
  // v1 limits still go to runc's v1 resources; the cgroup namespace stays.
  assert.deepEqual(hybrid.linux.resources.cpu, { shares: 1024, quota: 200000, period: 100000 });
  assert.ok(hybrid.linux.namespaces.some((n) => n.type === 'cgroup'));
  // Application containers keep the read-only view and no extra tmpfs.
  const app = renderOciConfig(appSpec, { cgroupVersion: 1, unifiedCgroup: true });
  assert.deepEqual(cg(app), readOnly);
  assert.ok(!app.mounts.some((m) => ['/run', '/tmp'].includes(m.destination)));
  assert.throws(() => renderOciConfig(systemSpec, { cgroupVersion: 2, unifiedCgroup: false }), /always has a unified hierarchy/);
});

test('system containers: /run, /run/lock and /tmp are taken (binds below /run are fine); apps may bind there', () => {
  for (const d of ['/run', '/run/lock', '/tmp', '/tmp/']) {
    assert.throws(() => renderOciConfig({ ...systemSpec, mounts: [{ source: '/x', destination: d }] }), /is taken or reserved/, d);
    assert.doesNotThrow(() => renderOciConfig({ ...appSpec, mounts: [{ source: '/x', destination: d }] }), d);
  }
  assert.doesNotThrow(() => renderOciConfig({ ...systemSpec, mounts: [{ source: '/x', destination: '/run/x' }] }));
});

test('deterministic, defaults to cgroup v2 and amd64, and the result shares nothing with the spec', () => {
  const spec = structuredClone(systemSpec);
  const a = renderOciConfigJson(spec);
  assert.equal(renderOciConfigJson(spec), a);
  const c = renderOciConfig(spec);
  assert.deepEqual(c.linux.seccomp.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  assert.deepEqual(c.linux.resources.unified, { 'cpu.weight': '100' });
  c.process.args.push('x');
  c.process.capabilities.bounding.push('CAP_SYS_ADMIN');
  c.linux.uidMappings[0]!.hostID = 0;
  assert.equal(renderOciConfigJson(spec), a);
  assert.deepEqual(spec, systemSpec);
});

test('user namespace: uid and gid both map container 0.. to the host range; never to host root', () => {
  const c = renderOciConfig(systemSpec, { cgroupVersion: 1 });
  assert.deepEqual(c.linux.uidMappings, [{ containerID: 0, hostID: 1065536, size: 65536 }]);
  assert.deepEqual(c.linux.gidMappings, c.linux.uidMappings);
  assert.ok(c.linux.namespaces.some((n) => n.type === 'user'));
});

test('limits: swap is the memory+swap total; no limits -> only the device rules', () => {
  const withSwap = renderOciConfig({ ...systemSpec, limits: { memoryBytes: 64 * MiB, swapBytes: 32 * MiB } });
  assert.deepEqual(withSwap.linux.resources.memory, { limit: 64 * MiB, swap: 96 * MiB });
  const noSwapLimit = renderOciConfig({ ...systemSpec, limits: { memoryBytes: 64 * MiB } });
  assert.deepEqual(noSwapLimit.linux.resources.memory, { limit: 64 * MiB });
  const none = renderOciConfig({ ...systemSpec, limits: {} });
  assert.deepEqual(Object.keys(none.linux.resources), ['devices']);
  assert.equal(none.process.rlimits, undefined);
  const quotaOnly = renderOciConfig({ ...systemSpec, limits: { cpus: 3 } }, { cgroupVersion: 2 });
  assert.deepEqual(quotaOnly.linux.resources.cpu, { quota: 300000, period: 100000 });
  assert.equal(quotaOnly.linux.resources.unified, undefined);
});

test('weightToShares: the kernel equivalence (weight 100 = 1024 shares), clamped to the v1 range', () => {
  assert.equal(weightToShares(100), 1024);
  assert.equal(weightToShares(1), 10);
  assert.equal(weightToShares(50), 512);
  assert.equal(weightToShares(10000), 102400);
});

test('the reduced capability set has no SYS_ADMIN, no ambient/inheritable; system keeps setuid working', () => {
  const c = renderOciConfig(systemSpec);
  assert.equal(c.process.capabilities.bounding.length, 14);
  assert.ok(!c.process.capabilities.bounding.includes('CAP_SYS_ADMIN'));
  assert.deepEqual(Object.keys(c.process.capabilities), ['bounding', 'effective', 'permitted']);
  assert.equal(c.process.noNewPrivileges, false);
  assert.equal(renderOciConfig(appSpec).process.noNewPrivileges, true);
  // The profile follows the kind (oci-seccomp.test.ts tests it).
  assert.deepEqual(c.linux.seccomp, renderSeccomp('system', 'amd64'));
  assert.deepEqual(renderOciConfig(appSpec).linux.seccomp, renderSeccomp('app', 'amd64'));
});

const bad: [string, (s: ContainerSpec) => ContainerSpec, RegExp][] = [
  ['relative rootfs', (s) => ({ ...s, rootfs: 'containers/web-1/rootfs' }), /rootfs must be an absolute path/],
  ['rootfs with ..', (s) => ({ ...s, rootfs: '/var/lib/../../etc' }), /rootfs must be an absolute path/],
  ['rootfs /', (s) => ({ ...s, rootfs: '/' }), /rootfs must not be \//],
  ['bad id', (s) => ({ ...s, id: '-rm' }), /invalid container id/],
  ['id with a slash', (s) => ({ ...s, id: 'a/b' }), /invalid container id/],
  ['unknown kind', (s) => ({ ...s, kind: 'vm' as never }), /unknown container kind/],
  ['bad hostname', (s) => ({ ...s, hostname: 'web_1' }), /invalid hostname/],
  ['cpus < 1', (s) => ({ ...s, limits: { cpus: 0.5 } }), /limits.cpus must be a number >= 1/],
  ['cpus NaN', (s) => ({ ...s, limits: { cpus: Number.NaN } }), /limits.cpus/],
  ['cpuWeight 0', (s) => ({ ...s, limits: { cpuWeight: 0 } }), /cpuWeight must be an integer 1-10000/],
  ['cpuWeight too big', (s) => ({ ...s, limits: { cpuWeight: 10001 } }), /cpuWeight/],
  ['memory < 4 MiB', (s) => ({ ...s, limits: { memoryBytes: 4 * MiB - 1 } }), /memoryBytes must be an integer >= 4 MiB/],
  ['swap without memory', (s) => ({ ...s, limits: { swapBytes: MiB } }), /swapBytes needs limits.memoryBytes/],
  ['negative swap', (s) => ({ ...s, limits: { memoryBytes: 8 * MiB, swapBytes: -1 } }), /swapBytes must be an integer >= 0/],
  ['pids 0', (s) => ({ ...s, limits: { pids: 0 } }), /pids must be an integer >= 1/],
  ['blkio weight out of range', (s) => ({ ...s, limits: { blkioWeight: 5 } }), /blkioWeight must be an integer 10-1000/],
  ['idmap size 0', (s) => ({ ...s, idmap: { hostId: 1065536, size: 0 } }), /idmap.size must be an integer >= 65536/],
  ['idmap to host root', (s) => ({ ...s, idmap: { hostId: 0, size: 65536 } }), /idmap.hostId must be an integer >= 1/],
  ['idmap past 2^32', (s) => ({ ...s, idmap: { hostId: 2 ** 32 - 100, size: 65536 } }), /runs past the largest uid/],
  ['uid outside the map', (s) => ({ ...s, process: { ...s.process, uid: 65536 } }), /process.uid must be an integer in \[0, 65536\)/],
  ['empty args', (s) => ({ ...s, process: { ...s.process, args: [] } }), /process.args must be a non-empty list/],
  ['env without =', (s) => ({ ...s, process: { ...s.process, env: ['PATH'] } }), /process.env entries must be KEY=VALUE/],
  ['relative cwd', (s) => ({ ...s, process: { ...s.process, cwd: 'srv' } }), /process.cwd must be an absolute path/],
  ['terminal true', (s) => ({ ...s, process: { ...s.process, terminal: true as never } }), /process.terminal must be false/],
  ['relative netns', (s) => ({ ...s, netnsPath: 'netns/x' }), /netnsPath must be an absolute path/],
  ['relative cgroup', (s) => ({ ...s, cgroupsPath: 'nimbo/web-1' }), /cgroupsPath must be an absolute cgroup path/],
  ['systemd-style cgroup', (s) => ({ ...s, cgroupsPath: 'system.slice:nimbo:web-1' }), /cgroupsPath/],
  ['cgroup with ..', (s) => ({ ...s, cgroupsPath: '/nimbo/../web-1' }), /cgroupsPath/],
  ['relative mount source', (s) => ({ ...s, mounts: [{ source: 'seed', destination: '/seed' }] }), /mount source must be an absolute path/],
  ['mount over /proc', (s) => ({ ...s, mounts: [{ source: '/srv', destination: '/proc/sys' }] }), /is taken or reserved/],
  ['duplicate mount', (s) => ({ ...s, mounts: [{ source: '/a', destination: '/x' }, { source: '/b', destination: '/x/' }] }), /is taken or reserved/],
  ['unknown capability', (s) => ({ ...s, extraCapabilities: ['CAP_EVERYTHING'] }), /unknown capability/],
];

for (const [name, mutate, re] of bad) {
  test(`validation: ${name}`, () => {
    assert.throws(
      () => renderOciConfig(mutate(structuredClone(systemSpec))),
      (e: unknown) => e instanceof NimboError && e.code === 'InvalidArgument' && re.test(e.message),
    );
  });
}

test('validation: render options', () => {
  assert.throws(() => renderOciConfig(systemSpec, { cgroupVersion: 3 as never }), /cgroupVersion must be 1 or 2/);
  assert.throws(() => renderOciConfig(systemSpec, { arch: 'mips' as never }), /unsupported arch/);
});

test('block I/O throttles: per device, each rate in its own OCI list (v1 blkio.throttle.*, v2 io.max); weight kept', () => {
  const c = renderOciConfig({
    ...systemSpec,
    limits: {
      blkioWeight: 300,
      blkioThrottle: [
        { major: 254, minor: 0, readBps: 10 * MiB, writeIops: 200 },
        { major: 8, minor: 16, writeBps: 5 * MiB, readIops: 100 },
      ],
    },
  }, { cgroupVersion: 1 });
  assert.deepEqual(c.linux.resources.blockIO, {
    weight: 300,
    throttleReadBpsDevice: [{ major: 254, minor: 0, rate: 10 * MiB }],
    throttleWriteBpsDevice: [{ major: 8, minor: 16, rate: 5 * MiB }],
    throttleReadIOPSDevice: [{ major: 8, minor: 16, rate: 100 }],
    throttleWriteIOPSDevice: [{ major: 254, minor: 0, rate: 200 }],
  });
  const only = renderOciConfig({ ...systemSpec, limits: { blkioThrottle: [{ major: 7, minor: 3, readIops: 50 }] } });
  assert.deepEqual(only.linux.resources.blockIO, { throttleReadIOPSDevice: [{ major: 7, minor: 3, rate: 50 }] });
  assert.equal(renderOciConfig({ ...systemSpec, limits: { blkioThrottle: [] } }).linux.resources.blockIO, undefined);
  const bad: [unknown, RegExp][] = [
    [[{ major: 0, minor: 0, readBps: 1 }], /major/],
    [[{ major: 8, minor: -1, readBps: 1 }], /minor/],
    [[{ major: 8, minor: 0 }], /sets no rate/],
    [[{ major: 8, minor: 0, readBps: 0 }], /integers >= 1/],
    [[{ major: 8, minor: 0, writeIops: 1.5 }], /integers >= 1/],
    [[{ major: 8, minor: 0, readBps: 1 }, { major: 8, minor: 0, writeBps: 1 }], /twice/],
    ['8:0', /must be a list/],
  ];
  for (const [t, re] of bad) {
    assert.throws(() => renderOciConfig({ ...systemSpec, limits: { blkioThrottle: t as never } }), re, JSON.stringify(t));
  }
});

test('a cpuset (dedicated slice or shared cores) becomes resources.cpu.cpus on v1 and v2; a bad one is refused', () => {
  const withSet = { ...systemSpec, limits: { ...systemSpec.limits, cpuset: [3, 1, 2] } };
  assert.equal(renderOciConfig(withSet, { cgroupVersion: 1 }).linux.resources.cpu?.cpus, '1-3');
  assert.equal(renderOciConfig(withSet, { cgroupVersion: 2 }).linux.resources.cpu?.cpus, '1-3');
  assert.equal(renderOciConfig(systemSpec, { cgroupVersion: 1 }).linux.resources.cpu?.cpus, undefined);
  assert.throws(() => renderOciConfig({ ...systemSpec, limits: { cpuset: [] } }), /limits.cpuset must be a non-empty list/);
  assert.throws(() => renderOciConfig({ ...systemSpec, limits: { cpuset: [-1] } }), /limits.cpuset/);
});
