/**
 * The KVM probe guest: a 206-byte flat multiboot kernel (a.out kludge, loaded at 1 MiB),
 * booted with `-kernel`, so it goes through SeaBIOS's "Booting from ROM" option-ROM path
 * like a direct-booted Linux kernel. It writes to COM1 (0x3f8):
 *   '1'   reached 32-bit protected mode (firmware + option ROM ran),
 *   '2'   switched to 64-bit long mode (PAE paging, EFER.LME),
 *   '.'   x16, one per 1,000,000 iterations of a dec/jnz loop (~1 ms each on real KVM),
 *   'OK\n' done, then exits QEMU through isa-debug-exit (iobase 0xf4) with status 33.
 * On the nested-KVM hosts that "hang at Booting from ROM", guest code runs ~100x slower
 * than TCG (instructions emulated one by one), so the 16 chunks never finish in time.
 *
 * Source (GNU as; `as --32 && ld -m elf_i386 -Ttext 0 --oformat binary`):
 *   .code32
 *   hdr:  .long 0x1BADB002, 0x00010000, -(0x1BADB002 + 0x00010000)
 *         .long 0x100000, 0x100000, 0, 0, 0x100000 + (entry - hdr)
 *   entry: cli; mov $0x3f8,%dx; mov $'1',%al; out %al,%dx
 *         mov $0x10000,%edi; xor %eax,%eax; mov $3072,%ecx; rep stosl   # zero PML4/PDPT/PD
 *         movl $0x11003,0x10000; movl $0x12003,0x11000; movl $0x83,0x12000  # 2 MiB identity map
 *         mov $0x10000,%eax; mov %eax,%cr3
 *         mov %cr4,%eax; or $0x20,%eax; mov %eax,%cr4                    # PAE
 *         mov $0xC0000080,%ecx; rdmsr; or $0x100,%eax; wrmsr             # EFER.LME
 *         lgdt 0x100000 + (gdtp - hdr)
 *         mov %cr0,%eax; or $0x80000001,%eax; mov %eax,%cr0              # PG|PE
 *         ljmp $0x08, $(0x100000 + (long64 - hdr))
 *   .code64
 *   long64: mov $0x3f8,%dx; mov $'2',%al; out %al,%dx; mov $16,%ebx
 *   3:    mov $1000000,%ecx
 *   4:    dec %ecx; jnz 4b
 *         mov $'.',%al; out %al,%dx; dec %ebx; jnz 3b
 *         mov $'O',%al; out %al,%dx; mov $'K',%al; out %al,%dx; mov $'\n',%al; out %al,%dx
 *         mov $0x10,%al; out %al,$0xf4                                   # exit status (0x10<<1)|1
 *   1:    hlt; jmp 1b
 *   .align 8
 *   gdt:  .quad 0, 0x00AF9A000000FFFF                                    # null, 64-bit code
 *   gdtp: .word 15; .long 0x100000 + (gdt - hdr)
 */
export const KVM_PROBE_IMAGE_HEX =
  '02b0ad1b00000100fe4f51e40000100000001000000000000000000020001000' +
  'fa66baf803b031eebf0000010031c0b9000c0000f3abc7050000010003100100' +
  'c7050010010003200100c7050020010083000000b8000001000f22d80f20e083' +
  'c8200f22e0b9800000c00f320d000100000f300f0115c80010000f20c00d0100' +
  '00800f22c0ea8c001000080066baf803b032eebb10000000b940420f00ffc975' +
  'fcb02eeeffcb75f0b04feeb04beeb00aeeb010e6f4f4ebfd0000000000000000' +
  'ffff0000009aaf000f00b8001000';

/** Number of '.' work chunks the probe guest prints before 'OK'. */
export const KVM_PROBE_CHUNKS = 16;

/** Exit status of QEMU when the probe guest finished (isa-debug-exit: (0x10 << 1) | 1). */
export const KVM_PROBE_EXIT = 33;

/** The probe guest's bytes. */
export function kvmProbeImage(): Buffer {
  return Buffer.from(KVM_PROBE_IMAGE_HEX, 'hex');
}
