import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AF_VSOCK, BASE_ALLOW, CLONE_NAMESPACE_FLAGS, ENOSYS, EPERM, renderSeccomp, SYSTEM_ALLOW } from './oci-seccomp.js';

const allowed = (p: ReturnType<typeof renderSeccomp>) => p.syscalls.find((r) => r.action === 'SCMP_ACT_ALLOW' && !r.args)!.names;

/** Never allowed to either kind: not namespaced, or a history of kernel exploits. */
const NEVER = ['add_key', 'keyctl', 'request_key', 'bpf', 'perf_event_open', 'userfaultfd', 'kexec_load', 'kexec_file_load',
  'init_module', 'finit_module', 'delete_module', 'open_by_handle_at', 'lookup_dcookie', 'quotactl', 'acct', 'swapon',
  'swapoff', 'settimeofday', 'clock_settime', 'clock_adjtime', 'stime', 'syslog', 'iopl', 'ioperm', 'vm86', '_sysctl', 'uselib'];
/** Namespaces and mounts: a system container's init needs them, an application never. */
const SYSTEM_ONLY = ['unshare', 'setns', 'mount', 'umount', 'umount2', 'pivot_root', 'fsopen', 'fsmount', 'move_mount', 'open_tree', 'mount_setattr', 'reboot', 'sethostname'];

test('golden: an application container on amd64 (default EPERM, the allow list, argument-filtered rules)', () => {
  const p = renderSeccomp('app', 'amd64');
  assert.equal(p.defaultAction, 'SCMP_ACT_ERRNO');
  assert.equal(p.defaultErrnoRet, EPERM);
  assert.deepEqual(p.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  assert.deepEqual(p.syscalls.slice(1), [
    { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0, op: 'SCMP_CMP_EQ' }] },
    { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }] },
    { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0x20000, op: 'SCMP_CMP_EQ' }] },
    { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0x20008, op: 'SCMP_CMP_EQ' }] },
    { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0xffffffff, op: 'SCMP_CMP_EQ' }] },
    { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: AF_VSOCK, op: 'SCMP_CMP_NE' }] },
    { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0x7e020000, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
    { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
    { names: ['io_uring_enter', 'io_uring_register', 'io_uring_setup'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
  ]);
  assert.equal(CLONE_NAMESPACE_FLAGS, 0x7e020000);
  const names = allowed(p);
  assert.equal(names.length, BASE_ALLOW.length + 2);
  assert.deepEqual(names, [...names].sort(), 'sorted: byte-stable output');
  assert.equal(new Set(names).size, names.length, 'no duplicates');
  for (const s of ['read', 'write', 'openat', 'execve', 'futex', 'arch_prctl', 'chroot', 'ptrace', 'setuid', 'name_to_handle_at']) assert.ok(names.includes(s), s);
});

test('application containers: no new namespaces, no mounts, no keyrings, bpf, perf, kexec or modules', () => {
  for (const arch of ['amd64', 'arm64'] as const) {
    const p = renderSeccomp('app', arch);
    const every = p.syscalls.filter((r) => r.action === 'SCMP_ACT_ALLOW').flatMap((r) => r.names);
    for (const s of [...NEVER, ...SYSTEM_ONLY, 'clone3']) assert.ok(!every.includes(s), `${arch}: ${s} must not be allowed`);
    // clone only without CLONE_NEWUSER and the other namespace flags.
    const clones = p.syscalls.filter((r) => r.names.includes('clone'));
    assert.equal(clones.length, 1);
    assert.ok((clones[0]!.args![0]!.value & 0x10000000) !== 0, 'CLONE_NEWUSER is in the mask');
  }
});

test('system containers: what a systemd guest needs on top, nothing of the never-list', () => {
  const p = renderSeccomp('system', 'amd64');
  const names = allowed(p);
  for (const s of [...SYSTEM_ONLY, 'clone', 'clone3', 'kcmp']) assert.ok(names.includes(s), s);
  for (const s of NEVER) assert.ok(!p.syscalls.some((r) => r.action === 'SCMP_ACT_ALLOW' && r.names.includes(s)), s);
  assert.ok(!p.syscalls.some((r) => r.args && r.names.includes('clone')), 'clone unrestricted');
  assert.equal(names.length, BASE_ALLOW.length + 2 + SYSTEM_ALLOW.length);
  assert.deepEqual(p.syscalls.at(-1), { names: ['io_uring_enter', 'io_uring_register', 'io_uring_setup'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS });
});

test('arch-aware: amd64 and arm64 get their own ABIs and arch-only calls', () => {
  const x86 = renderSeccomp('system', 'amd64');
  const arm = renderSeccomp('system', 'arm64');
  assert.deepEqual(arm.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  assert.ok(allowed(x86).includes('arch_prctl') && !allowed(arm).includes('arch_prctl'));
  assert.ok(allowed(arm).includes('set_tls') && !allowed(x86).includes('set_tls'));
  assert.ok(allowed(arm).includes('cacheflush') && !allowed(x86).includes('cacheflush'));
  assert.ok(allowed(x86).includes('modify_ldt') && !allowed(arm).includes('modify_ldt'));
});

test('pure: equal results, fresh objects (a caller mutating one does not change the next)', () => {
  const a = renderSeccomp('app', 'amd64');
  a.syscalls[0]!.names.push('kexec_load');
  a.architectures.push('SCMP_ARCH_X');
  const b = renderSeccomp('app', 'amd64');
  assert.ok(!allowed(b).includes('kexec_load'));
  assert.equal(b.architectures.length, 3);
  assert.deepEqual(renderSeccomp('app', 'amd64'), b);
});
