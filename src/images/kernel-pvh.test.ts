import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasPvhNote } from './kernel-pvh.js';

/** A minimal ELF64 with one PT_NOTE segment holding the given notes. */
function elfWithNotes(notes: { name: string; type: number }[]): Buffer {
  const noteBufs = notes.map(({ name, type }) => {
    const n = Buffer.from(name + '\0', 'latin1');
    const b = Buffer.alloc(12 + ((n.length + 3) & ~3) + 4);
    b.writeUInt32LE(n.length, 0);
    b.writeUInt32LE(4, 4);
    b.writeUInt32LE(type, 8);
    n.copy(b, 12);
    return b;
  });
  const note = Buffer.concat(noteBufs);
  const buf = Buffer.alloc(64 + 56 + note.length);
  buf.writeUInt32BE(0x7f454c46, 0);
  buf[4] = 2; // ELFCLASS64
  buf[5] = 1; // little endian
  buf.writeBigUInt64LE(64n, 0x20); // e_phoff
  buf.writeUInt16LE(56, 0x36);
  buf.writeUInt16LE(1, 0x38);
  buf.writeUInt32LE(4, 64); // PT_NOTE
  buf.writeBigUInt64LE(120n, 64 + 8);
  buf.writeBigUInt64LE(BigInt(note.length), 64 + 32);
  note.copy(buf, 120);
  return buf;
}

test('hasPvhNote: finds the Xen PHYS32_ENTRY note', () => {
  assert.equal(hasPvhNote(elfWithNotes([{ name: 'GNU', type: 3 }, { name: 'Xen', type: 18 }])), true);
  assert.equal(hasPvhNote(elfWithNotes([{ name: 'Xen', type: 6 }])), false);
  assert.equal(hasPvhNote(Buffer.from('MZ not an elf at all, just some bytes ....................................')), false);
});
