import { readFileSync, writeFileSync } from 'node:fs';

/** One entry of a newc cpio archive. */
export type CpioEntry =
  | { kind: 'dir'; name: string; mode?: number }
  | { kind: 'file'; name: string; data: Buffer | string; mode?: number }
  | { kind: 'symlink'; name: string; target: string }
  | { kind: 'chardev'; name: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

const pad4 = (n: number): Buffer => Buffer.alloc((4 - (n % 4)) % 4);

function header(ino: number, mode: number, size: number, nameLen: number, rmaj = 0, rmin = 0): Buffer {
  // newc: magic + 13 fields of 8 hex digits (see the kernel's Documentation/driver-api/early-userspace/buffer-format.rst).
  const f = [ino, mode, 0, 0, 1, 0, size, 0, 0, rmaj, rmin, nameLen, 0];
  return Buffer.from('070701' + f.map((v) => v.toString(16).padStart(8, '0')).join(''), 'ascii');
}

/** Render a newc cpio archive (the initramfs format) from entries; no host cpio needed. */
export function renderCpio(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let off = 0;
  const push = (b: Buffer) => {
    parts.push(b);
    off += b.length;
  };
  const add = (name: string, mode: number, data: Buffer, ino: number, rmaj = 0, rmin = 0) => {
    const nameBuf = Buffer.from(name + '\0', 'utf8');
    push(header(ino, mode, data.length, nameBuf.length, rmaj, rmin));
    push(nameBuf);
    push(pad4(off));
    push(data);
    push(pad4(off));
  };
  entries.forEach((e, i) => {
    const ino = i + 1;
    if (e.kind === 'dir') add(e.name, S_IFDIR | (e.mode ?? 0o755), Buffer.alloc(0), ino);
    else if (e.kind === 'file') add(e.name, S_IFREG | (e.mode ?? 0o644), Buffer.from(e.data), ino);
    else if (e.kind === 'symlink') add(e.name, S_IFLNK | 0o777, Buffer.from(e.target), ino);
    else add(e.name, S_IFCHR | (e.mode ?? 0o600), Buffer.alloc(0), ino, e.major, e.minor);
  });
  add('TRAILER!!!', 0, Buffer.alloc(0), 0);
  return Buffer.concat(parts);
}

/**
 * Write a tiny busybox initramfs for tests: /init prints `marker` on the console, then
 * echoes every console line back as `ECHO:<line>` and never exits; the line `poweroff` powers the
 * guest off itself (ACPI, as a guest's shutdown does: QEMU reports SHUTDOWN with guest: true).
 */
export function writeBusyboxInitramfs(path: string, marker: string, busybox = '/bin/busybox'): void {
  const init = [
    '#!/bin/sh',
    'export PATH=/bin',
    `echo ${marker}`,
    'while read line; do [ "$line" = poweroff ] && /bin/busybox poweroff -f; echo "ECHO:$line"; done',
    'while true; do /bin/busybox sleep 3600; done',
    '',
  ].join('\n');
  writeFileSync(
    path,
    renderCpio([
      { kind: 'dir', name: 'bin' },
      { kind: 'dir', name: 'dev' },
      { kind: 'dir', name: 'proc' },
      { kind: 'chardev', name: 'dev/console', major: 5, minor: 1 },
      { kind: 'file', name: 'bin/busybox', data: readFileSync(busybox), mode: 0o755 },
      { kind: 'symlink', name: 'bin/sh', target: 'busybox' },
      { kind: 'file', name: 'init', data: init, mode: 0o755 },
    ]),
  );
}
