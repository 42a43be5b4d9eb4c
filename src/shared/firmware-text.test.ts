import assert from 'node:assert/strict';
import { test } from 'node:test';
import { firmwareText } from './firmware-text.js';

test('firmware in words: BIOS/UEFI with Secure Boot and TPM on x86, the virt machines\' own boot path elsewhere, nothing for containers', () => {
  const fw = (type: 'bios' | 'uefi', secureBoot = false, tpm = false) => ({ type, secureBoot, tpm });
  assert.equal(firmwareText({ firmware: fw('bios'), arch: 'x86_64' }), 'BIOS');
  assert.equal(firmwareText({ firmware: fw('bios') }), 'BIOS', 'an older record without arch is x86_64');
  assert.equal(firmwareText({ firmware: fw('uefi', true, true), arch: 'x86_64' }), 'UEFI, Secure Boot, TPM 2.0');
  assert.equal(firmwareText({ firmware: fw('bios'), arch: 'aarch64' }), 'AAVMF UEFI for disk boots, none for a direct kernel boot');
  assert.equal(firmwareText({ firmware: fw('bios'), arch: 'riscv64' }), 'OpenSBI (with U-Boot for disk boots)');
  assert.equal(firmwareText({ arch: 'x86_64' }), undefined);
});
