// The panel's issue-14 views (web/src/lib/vm-facts.ts and the wizard's VM fields in instance-view.ts): the create
// body's firmware/TPM/hot-add/ISO fields, the images the wizard offers, instance facts, the resize note, and the
// Import-from-URL body. Compiled by the root tsconfig through these imports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Image, Instance } from '../../src/shared/api-types.js';
import { createBody, wizardImages, type CreateForm } from '../../web/src/lib/instance-view.js';
import { cpusText, firmwareText, guestMemoryText, imageType, importUrlBody, memoryText, resizeNote, templateNote } from '../../web/src/lib/vm-facts.js';

const MiB = 1024 ** 2;
const form: CreateForm = { name: 'v1', type: 'vm', image: 'tiny', plan: 'none', cpus: '1', memory: '256', disk: '', sshKey: 'ssh-ed25519 A a', network: '', securityGroups: [], userData: '#cloud-config\n' };
const inst = (o: Partial<Instance> = {}): Instance => ({
  id: 'i', name: 'v1', type: 'vm', image: 'tiny', state: 'running', accelerator: 'tcg', cpus: 1, memory: 256 * MiB, disk: 1, addresses: [],
  nics: [], pid: null, description: '', autostart: 'last-state', createdAt: '2026-12-05T00:00:00Z', ...o,
});
const img = (name: string, o: Partial<Image> = {}): Image => ({ name, source: 's', format: 'qcow2', boot: 'disk', os: '', size: 1, status: 'ready', createdAt: '', visibility: 'public', ...o });

test('the wizard sends arch, firmware, Secure Boot (UEFI only), TPM and hot-add room for VMs, and none of them for containers', () => {
  const vm = createBody({ ...form, firmware: 'uefi', secureBoot: true, tpm: true, maxCpus: '4', maxMemory: '1024' });
  assert.deepEqual(vm, { name: 'v1', image: 'tiny', type: 'vm', cpus: 1, memory: '256MiB', sshKeys: ['ssh-ed25519 A a'], userData: '#cloud-config\n', firmware: 'uefi', secureBoot: true, tpm: true, maxCpus: 4, maxMemory: '1024MiB' });
  // BIOS is the API's default: left out, and Secure Boot is never sent without UEFI.
  const bios = createBody({ ...form, firmware: 'bios', secureBoot: true, maxMemory: '2GiB' });
  assert.equal(bios.firmware, undefined);
  assert.equal(bios.secureBoot, undefined);
  assert.equal(bios.maxMemory, '2GiB');
  assert.equal(createBody({ ...form, arch: 'aarch64' }).arch, 'aarch64');
  assert.equal(createBody({ ...form, arch: '' }).arch, undefined);
  const ct = createBody({ ...form, type: 'container', firmware: 'uefi', secureBoot: true, tpm: true, maxCpus: '4', iso: true, arch: 'riscv64' });
  for (const k of ['firmware', 'secureBoot', 'tpm', 'maxCpus', 'iso', 'arch'] as const) assert.equal(ct[k], undefined, k);
  assert.deepEqual(ct.sshKeys, ['ssh-ed25519 A a']);
});

test('an install from ISO sends iso and the disk size, and no SSH key or user-data', () => {
  const b = createBody({ ...form, image: 'debian-cd', iso: true, disk: '20' });
  assert.deepEqual(b, { name: 'v1', image: 'debian-cd', type: 'vm', cpus: 1, memory: '256MiB', disk: '20GiB', iso: true });
});

test('the wizard offers ready ISO images for an ISO install and the other ready images otherwise', () => {
  const l = [img('tiny'), img('cd', { type: 'iso' }), img('app', { type: 'oci' }), img('old', { type: 'disk', status: 'building' }), img('d', { type: 'disk' })];
  assert.deepEqual(wizardImages(l, true).map((i) => i.name), ['cd']);
  assert.deepEqual(wizardImages(l, false).map((i) => i.name), ['tiny', 'app', 'd']);
});

test('image types: template for a saved booted VM (with the shape a launch gets), else the type or disk', () => {
  const t = img('warm', { kind: 'template', template: { cpus: 2, memory: 256 * MiB, nics: 1, stateBytes: 1, from: 'v1' } });
  assert.equal(imageType(t), 'template');
  assert.equal(imageType(img('cd', { type: 'iso' })), 'iso');
  assert.equal(imageType(img('old')), 'disk');
  assert.equal(templateNote(t), 'a template saved from v1: the VM gets its 2 vCPUs, 256 MiB and 1 NIC(s) and resumes from its saved memory');
  assert.equal(templateNote(img('tiny')), undefined);
  assert.equal(templateNote(undefined), undefined);
});

test('instance facts: firmware in words, CPUs and memory with their hot-add maximum, the guest memory', () => {
  assert.equal(firmwareText(inst()), undefined);
  assert.equal(firmwareText(inst({ firmware: { type: 'uefi', secureBoot: true, tpm: true } })), 'UEFI, Secure Boot, TPM 2.0');
  assert.equal(firmwareText(inst({ firmware: { type: 'bios', secureBoot: false, tpm: false } })), 'BIOS');
  assert.equal(cpusText(inst()), '1');
  assert.equal(cpusText(inst({ maxCpus: 4 })), '1 (up to 4)');
  assert.equal(cpusText(inst({ maxCpus: 1 })), '1');
  assert.equal(memoryText(inst({ maxMemory: 1024 * MiB })), '256 MiB (up to 1.0 GiB)');
  assert.equal(memoryText(inst()), '256 MiB');
  assert.equal(guestMemoryText(inst()), undefined);
  const g = { totalBytes: 200 * MiB, freeBytes: 150 * MiB, availableBytes: 160 * MiB, usedBytes: 40 * MiB };
  assert.equal(guestMemoryText(inst({ usage: { cpuSeconds: 1, memoryBytes: 1, pids: 1, guestMemory: g } })), '40 MiB used of 200 MiB, 150 MiB free');
});

test('the resize note says what changes now: freely when stopped, live up to the maximum, or only after a stop', () => {
  assert.match(resizeNote(inst({ state: 'stopped', maxCpus: 4 })), /^Stopped: CPUs and memory change freely/);
  assert.match(resizeNote(inst({ maxCpus: 4, maxMemory: 512 * MiB })), /grow live up to 4 vCPUs and 512 MiB/);
  assert.match(resizeNote(inst()), /change while the instance is stopped \(it has no hot-add room\)/);
  assert.match(resizeNote(inst({ type: 'container', maxCpus: 4 })), /no hot-add room/);
});

test('Import from URL: a sha256 or a SHA256SUMS URL in the checksum field, nothing when empty', () => {
  const h = 'AB'.repeat(32);
  assert.deepEqual(importUrlBody({ name: ' deb ', url: ' https://x.org/d.qcow2 ', checksum: '' }), { name: 'deb', url: 'https://x.org/d.qcow2' });
  assert.deepEqual(importUrlBody({ name: 'deb', url: 'https://x.org/d.qcow2', checksum: `sha256:${h}` }), { name: 'deb', url: 'https://x.org/d.qcow2', sha256: h.toLowerCase() });
  assert.deepEqual(importUrlBody({ name: 'deb', url: 'http://x.org/d.qcow2', checksum: 'http://x.org/SHA256SUMS' }), { name: 'deb', url: 'http://x.org/d.qcow2', sha256sums: 'http://x.org/SHA256SUMS' });
});
