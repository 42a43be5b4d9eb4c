import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RealExec } from '../../../host/exec.js';
import { renderOciConfigJson, type ContainerSpec } from './oci-config.js';
import { SYSTEM_CAPABILITIES } from './boot-spec.js';
import { hostRenderOptions, RuncDriver } from './runc-driver.js';

// Seccomp and mask hardening seen from inside real containers: a rootfs whose /usr is the
// host's (read-only bind), so the host's python3 probes syscalls from inside. Each probe runs
// in a forked child and reports its errno (0 = the call succeeded). Needs root, runc, python3.
const RUNC = ['/usr/sbin/runc', '/usr/bin/runc'].find((p) => existsSync(p));
const skip = process.getuid?.() !== 0 ? 'needs root' : !RUNC ? 'needs runc' : !existsSync('/usr/bin/python3') ? 'needs /usr/bin/python3' : false;

const PROBE = String.raw`
import ctypes, json, os, sys
libc = ctypes.CDLL(None, use_errno=True)
NR = {
  'x86_64': dict(unshare=272, keyctl=250, add_key=248, request_key=249, clone3=435, bpf=321, perf_event_open=298, kexec_load=246, init_module=175),
  'aarch64': dict(unshare=97, keyctl=219, add_key=217, request_key=218, clone3=435, bpf=280, perf_event_open=241, kexec_load=104, init_module=105),
}[os.uname().machine]
P = ctypes.c_char_p
def sc(name, *a):
    return libc.syscall(NR[name], *a)
def probe(fn):
    pid = os.fork()
    if pid == 0:
        ctypes.set_errno(0)
        r = fn()
        os._exit(0 if r >= 0 else min(ctypes.get_errno(), 255))
    return os.waitpid(pid, 0)[1] >> 8
def mount_proc():
    os.makedirs('/tmp/p', exist_ok=True)
    return libc.mount(P(b'proc'), P(b'/tmp/p'), P(b'proc'), ctypes.c_ulong(0), None)
def mount_sysfs():
    os.makedirs('/tmp/s', exist_ok=True)
    return libc.mount(P(b'sysfs'), P(b'/tmp/s'), P(b'sysfs'), ctypes.c_ulong(0), None)
def unmask(path, detach):
    # Unmount whatever covers path, as often as the kernel lets us; then: is the real content visible?
    for _ in range(4): libc.umount2(P(path.encode()), 2 if detach else 0)
    try:
        if os.path.isdir(path): return 1 if os.listdir(path) else 0
        with open(path, 'rb') as f: return 1 if f.read(64) else 0
    except OSError: return 0
probes = {
  'getpid': lambda: os.getpid(),
  'unshare_user': lambda: sc('unshare', ctypes.c_long(0x10000000)),
  'unshare_mount': lambda: sc('unshare', ctypes.c_long(0x00020000)),
  'keyctl': lambda: sc('keyctl', ctypes.c_long(0), ctypes.c_long(-3), ctypes.c_long(0)),
  'add_key': lambda: sc('add_key', P(b'user'), P(b'k'), P(b'v'), ctypes.c_long(1), ctypes.c_long(-3)),
  'request_key': lambda: sc('request_key', P(b'user'), P(b'k'), None, ctypes.c_long(-3)),
  'clone3': lambda: sc('clone3', None, ctypes.c_long(0)),
  'bpf': lambda: sc('bpf', ctypes.c_long(0), None, ctypes.c_long(0)),
  'perf_event_open': lambda: sc('perf_event_open', None, ctypes.c_long(0), ctypes.c_long(-1), ctypes.c_long(-1), ctypes.c_long(0)),
  'kexec_load': lambda: sc('kexec_load', ctypes.c_long(0), ctypes.c_long(0), None, ctypes.c_long(0)),
  'init_module': lambda: sc('init_module', None, ctypes.c_long(0), P(b'')),
  'mount_tmpfs': lambda: libc.mount(P(b'none'), P(b'/mnt'), P(b'tmpfs'), ctypes.c_ulong(0), None),
  'mount_proc': mount_proc,
  'mount_sysfs': mount_sysfs,
}
res = {k: probe(f) for k, f in probes.items()}
# Revealed (1) or still masked (0): /sys/firmware lists acpi/ and more on the host, an empty tmpfs when masked.
res['revealed /sys/firmware'] = unmask('/sys/firmware', False)
# Last (it changes the namespace): without any /proc, a new procfs has nothing to be as visible as.
def no_proc_then_mount():
    libc.umount2(P(b'/proc'), 2)
    os.makedirs('/tmp/p2', exist_ok=True)
    return libc.mount(P(b'proc'), P(b'/tmp/p2'), P(b'proc'), ctypes.c_ulong(0), None)
res['mount_proc_after_umount'] = probe(no_proc_then_mount)
print(json.dumps(res))
`;

const EPERM = 1;
const ENOSYS = 38;

/** A rootfs with the host's /usr bound read-only in (the merged-/usr symlinks point into it). */
function hostUsrRootfs(rootfs: string): void {
  for (const d of ['usr', 'proc', 'sys', 'dev', 'etc', 'root', 'tmp', 'mnt', 'run/probe']) mkdirSync(join(rootfs, d), { recursive: true });
  for (const l of ['bin', 'lib', 'lib64', 'sbin']) if (existsSync(`/usr/${l}`)) symlinkSync(`usr/${l}`, join(rootfs, l));
  writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  chmodSync(join(rootfs, 'tmp'), 0o1777);
}

function removeCgroups(prefix: string): void {
  const roots = existsSync('/sys/fs/cgroup/cgroup.controllers') ? ['/sys/fs/cgroup'] : readdirSync('/sys/fs/cgroup').map((d) => join('/sys/fs/cgroup', d));
  for (const r of roots) {
    const top = join(r, prefix);
    if (!existsSync(top)) continue;
    for (const leaf of readdirSync(top, { withFileTypes: true }).filter((e) => e.isDirectory())) rmdirSync(join(top, leaf.name), { recursive: false });
    rmdirSync(top);
  }
}

test('hardening in real containers: app seccomp denies namespaces, keyrings, bpf, perf, kexec; masks cannot be lifted, even by root of a system container', { skip, timeout: 120_000 }, async (t) => {
  const exec = new RealExec();
  const prefix = `rch${randomBytes(3).toString('hex')}`;
  const base = 5_000_000 + randomInt(0, 2000) * 65536;
  const dir = mkdtempSync('/tmp/rch-sys-');
  chmodSync(dir, 0o755);
  const root = join(dir, 'runc-root');
  const driver = new RuncDriver({ exec, runtime: RUNC!, root });
  const ids = [`${prefix}-app`, `${prefix}-sys`];
  try {
    const rootfs = join(dir, 'rootfs');
    hostUsrRootfs(rootfs);
    await exec.run(['chown', '-R', '-h', `${base}:${base}`, rootfs]);
    mkdirSync(join(dir, 'probe'));
    writeFileSync(join(dir, 'probe', 'probe.py'), PROBE);
    const opts = await hostRenderOptions();
    const run = async (id: string, kind: 'app' | 'system'): Promise<Record<string, number>> => {
      const bundle = join(dir, id);
      mkdirSync(bundle);
      const spec: ContainerSpec = {
        id,
        kind,
        hostname: 'rch',
        rootfs,
        process: { args: ['/usr/bin/sleep', '1000'], env: ['PATH=/usr/sbin:/usr/bin'], cwd: '/', uid: 0, gid: 0 },
        idmap: { hostId: base, size: 65536 },
        limits: { pids: 64 },
        cgroupsPath: `/${prefix}/${kind}`,
        mounts: [{ source: '/usr', destination: '/usr', readonly: true }, { source: join(dir, 'probe'), destination: '/run/probe', readonly: true }],
        // What boot-spec.ts gives system containers.
        ...(kind === 'system' ? { extraCapabilities: [...SYSTEM_CAPABILITIES] } : {}),
      };
      writeFileSync(join(bundle, 'config.json'), renderOciConfigJson(spec, opts));
      await driver.create(id, bundle, { stdoutPath: join(dir, `${id}.log`) });
      const r = await driver.exec(id, ['/usr/bin/python3', '/run/probe/probe.py']);
      assert.equal(r.code, 0, r.stderr);
      t.diagnostic(`${kind}: ${r.stdout.trim()}`);
      return JSON.parse(r.stdout) as Record<string, number>;
    };

    const app = await run(ids[0]!, 'app');
    assert.equal(app.getpid, 0, 'ordinary calls work');
    for (const k of ['unshare_user', 'unshare_mount', 'keyctl', 'add_key', 'request_key', 'bpf', 'perf_event_open', 'kexec_load', 'init_module', 'mount_tmpfs']) {
      assert.equal(app[k], EPERM, `app container: ${k} must fail with EPERM`);
    }
    assert.equal(app.clone3, ENOSYS, 'clone3 answers ENOSYS (glibc falls back to the filtered clone)');
    // No CAP_SYS_ADMIN, no user namespace of its own: an application container cannot lift its masks.
    assert.ok(Object.keys(app).includes('revealed /sys/firmware'), 'the host has /sys/firmware content to hide');
    for (const k of Object.keys(app).filter((x) => x.startsWith('revealed '))) assert.equal(app[k], 0, `app container: ${k.slice(9)} stays masked`);
    for (const k of ['mount_proc', 'mount_sysfs']) assert.equal(app[k], EPERM, `app container: ${k}`);
    const unshareCli = await driver.exec(ids[0]!, ['/usr/bin/unshare', '-U', 'true']);
    assert.notEqual(unshareCli.code, 0);
    assert.match(unshareCli.stderr, /Operation not permitted/);

    const sys = await run(ids[1]!, 'system');
    assert.equal(sys.unshare_user, 0, 'a system container may make namespaces (systemd sandboxes)');
    assert.equal(sys.mount_tmpfs, 0, 'and mount inside its own mount namespace');
    for (const k of ['keyctl', 'add_key', 'request_key', 'bpf', 'perf_event_open', 'kexec_load', 'init_module']) {
      assert.equal(sys[k], EPERM, `system container: ${k} must fail with EPERM`);
    }
    // Root of a system container holds CAP_SYS_ADMIN over its own namespaces, yet its masks are
    // locked (mask-lock.ts): unmounting does not reveal /sys/firmware, and no fresh procfs/sysfs.
    for (const k of ['mount_proc', 'mount_sysfs', 'mount_proc_after_umount']) assert.notEqual(sys[k], 0, `system container: ${k} must fail`);
    assert.equal(sys['revealed /sys/firmware'], 0, 'system container: /sys/firmware stays masked after umount attempts');
  } finally {
    for (const id of ids) await exec.run([RUNC!, '--root', root, 'delete', '--force', id], { allowFailure: true });
    try {
      removeCgroups(prefix);
    } catch {
      /* reported by the check below */
    }
    rmSync(dir, { recursive: true, force: true });
  }
  const left = (existsSync('/sys/fs/cgroup/cgroup.controllers') ? ['/sys/fs/cgroup'] : readdirSync('/sys/fs/cgroup').map((d) => join('/sys/fs/cgroup', d))).filter((r) => existsSync(join(r, prefix)));
  assert.deepEqual(left, [], 'no cgroup dirs left behind');
});
