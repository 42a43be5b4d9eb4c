// Pure views of a VM's issue-14 facts for the instance page (firmware, hot-add room, guest memory) and the
// images page's Import-from-URL body; unit-tested in test/web/vm-facts.test.ts.
import type { Image, Instance, InstanceCreate } from '../../../src/shared/api-types.js';
import type { ImageImportUrl } from '../../../src/shared/image-fetch-types.js';
import { bytes } from './format.js';

/** The guest architectures a VM may ask for (the API's Arch; a list of its own: the shared one's module reads Node's process). */
export const ARCHES: readonly NonNullable<InstanceCreate['arch']>[] = ['x86_64', 'aarch64', 'riscv64'];

/** An image's type for the list: template (a booted VM saved for warm launches), else disk, iso or oci. */
export function imageType(i: Image): string {
  return i.kind === 'template' ? 'template' : (i.type ?? 'disk');
}

/** The wizard's note on a template image: the shape a launch gets (it restores its saved memory); others: undefined. */
export function templateNote(i: Image | undefined): string | undefined {
  const t = i?.kind === 'template' ? i.template : undefined;
  return t ? `a template saved from ${t.from}: the VM gets its ${t.cpus} vCPUs, ${bytes(t.memory)} and ${t.nics} NIC(s) and resumes from its saved memory` : undefined;
}

/** The firmware in words (shared with `nimbo info`). */
export { firmwareText } from '../../../src/shared/firmware-text.js';

/** CPUs with the hot-add maximum when there is room: "1 (up to 4)". */
export function cpusText(i: Instance): string {
  return i.maxCpus !== undefined && i.maxCpus > i.cpus ? `${i.cpus} (up to ${i.maxCpus})` : String(i.cpus);
}

/** Memory with the hot-add maximum when there is room: "256 MiB (up to 1 GiB)". */
export function memoryText(i: Instance): string {
  return i.maxMemory !== undefined && i.maxMemory > i.memory ? `${bytes(i.memory)} (up to ${bytes(i.maxMemory)})` : bytes(i.memory);
}

/** The guest's own view of its memory (balloon statistics): "40 MiB used of 256 MiB, 180 MiB free"; none: undefined. */
export function guestMemoryText(i: Instance): string | undefined {
  const g = i.usage?.guestMemory;
  if (!g) return undefined;
  return `${bytes(g.usedBytes)} used of ${bytes(g.totalBytes)}, ${bytes(g.freeBytes)} free`;
}

/** The resize form's note: what changes now, given the state and the hot-add room (the API has the last word). */
export function resizeNote(i: Instance): string {
  const stopped = i.state === 'stopped';
  const room = i.type === 'vm' && ((i.maxCpus ?? i.cpus) > i.cpus || (i.maxMemory ?? i.memory) > i.memory);
  if (stopped) return 'Stopped: CPUs and memory change freely; a disk only grows.';
  if (room) return `Running: CPUs and memory grow live up to ${i.maxCpus ?? i.cpus} vCPUs and ${bytes(i.maxMemory ?? i.memory)} (set at launch); shrinking or going past that needs a stop. A disk only grows, and grows while it runs.`;
  return 'CPUs and memory change while the instance is stopped (it has no hot-add room); a disk only grows, and grows while it runs.';
}

/** The Import-from-URL form as the API's body: the checksum field is a sha256 or, as a URL, a SHA256SUMS file. */
export function importUrlBody(f: { name: string; url: string; checksum: string }): ImageImportUrl {
  const body: ImageImportUrl = { name: f.name.trim(), url: f.url.trim() };
  const c = f.checksum.trim();
  if (/^https?:\/\//i.test(c)) body.sha256sums = c;
  else if (c) body.sha256 = c.replace(/^sha256:/i, '').toLowerCase();
  return body;
}
