import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import type { HostExec } from '../host/exec.js';

const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
const PT_NOTE = 4;
const XEN_ELFNOTE_PHYS32_ENTRY = 18;

/**
 * True if buf is an x86-64 ELF kernel with a Xen PVH entry note, which QEMU's `-kernel`
 * boots directly (no in-guest decompression; see linux arch/x86/platform/pvh/head.S).
 */
export function hasPvhNote(buf: Buffer): boolean {
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2 || buf[5] !== 1) return false;
  const phoff = Number(buf.readBigUInt64LE(0x20));
  const phentsize = buf.readUInt16LE(0x36);
  const phnum = buf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (ph + 56 > buf.length || buf.readUInt32LE(ph) !== PT_NOTE) continue;
    let off = Number(buf.readBigUInt64LE(ph + 8));
    const end = Math.min(buf.length, off + Number(buf.readBigUInt64LE(ph + 32)));
    while (off + 12 <= end) {
      const namesz = buf.readUInt32LE(off);
      const descsz = buf.readUInt32LE(off + 4);
      const type = buf.readUInt32LE(off + 8);
      const name = buf.subarray(off + 12, off + 12 + namesz).toString('latin1');
      if (name === 'Xen\0' && type === XEN_ELFNOTE_PHYS32_ENTRY) return true;
      off += 12 + ((namesz + 3) & ~3) + ((descsz + 3) & ~3);
    }
  }
  return false;
}

/**
 * Extracts the uncompressed ELF kernel from a bzImage (xz or zstd payload) into outPath if
 * it can be PVH-booted; returns false (and leaves nothing) otherwise. Under TCG this saves
 * the guest's own decompression, seconds per boot.
 */
export async function extractPvhKernel(exec: HostExec, bzImage: string, outPath: string): Promise<boolean> {
  const img = await readFile(bzImage);
  const candidates: { at: number; ext: string; argv: (f: string) => string[] }[] = [
    { at: img.indexOf(XZ_MAGIC), ext: 'xz', argv: (f) => ['xz', '-d', '-q', '-f', '--single-stream', f] },
    { at: img.indexOf(ZSTD_MAGIC), ext: 'zst', argv: (f) => ['zstd', '-d', '-q', '-f', '--rm', f] },
  ];
  for (const c of candidates.filter((x) => x.at > 0).sort((a, b) => a.at - b.at)) {
    const packed = `${outPath}.${c.ext}`;
    await writeFile(packed, img.subarray(c.at));
    // Trailing bytes after the stream make the tools warn or fail; the output still counts if valid.
    await exec.run(c.argv(packed), { allowFailure: true, timeoutMs: 300_000 });
    await rm(packed, { force: true });
    if (await stat(outPath).catch(() => null)) {
      if (hasPvhNote(await readFile(outPath))) return true;
      await rm(outPath, { force: true });
    }
  }
  return false;
}
