import { test } from 'node:test';
import assert from 'node:assert/strict';
import { moduleLoadOrderFromDep, parseModulesDep, parsePackages, parseReleaseSha256, resolvePackages } from './debian-packages.js';
import { clearsignedText, mirrorFromSources } from './debian-fetch.js';

const PACKAGES = `Package: dropbear-bin
Version: 2022.83-1
Depends: libc6 (>= 2.34), libtomcrypt1 (>= 1.18.2), zlib1g (>= 1:1.1.4) | zlib-virtual
Filename: pool/main/d/dropbear/dropbear-bin_2022.83-1_arm64.deb
Size: 143724
SHA256: ${'a'.repeat(64)}
Description: lightweight SSH2 server
 continued description line

Package: libc6
Version: 2.36
Pre-Depends: libgcc-s1:any
Filename: pool/main/g/glibc/libc6_2.36_arm64.deb
Size: 10
SHA256: ${'b'.repeat(64)}

Package: libgcc-s1
Version: 12
Depends: libc6
Filename: pool/main/g/gcc/libgcc-s1_12_arm64.deb
Size: 1
SHA256: ${'c'.repeat(64)}

Package: libtomcrypt1
Version: 1.18
Depends: libc6, libtommath1
Filename: pool/main/l/libtomcrypt1.deb
Size: 1
SHA256: ${'d'.repeat(64)}

Package: zlib1g
Version: 1.2
Filename: pool/main/z/zlib1g.deb
Size: 1
SHA256: ${'e'.repeat(64)}
`;

test('Packages: fields, dependency alternatives without versions or :any; closure of what a root needs', () => {
  const idx = parsePackages(PACKAGES);
  const d = idx.get('dropbear-bin')!;
  assert.deepEqual(d.depends, [['libc6'], ['libtomcrypt1'], ['zlib1g', 'zlib-virtual']]);
  assert.equal(d.filename, 'pool/main/d/dropbear/dropbear-bin_2022.83-1_arm64.deb');
  assert.equal(idx.get('libc6')!.depends[0]![0], 'libgcc-s1');
  assert.throws(() => resolvePackages(idx, ['dropbear-bin']), /libtommath1/);
  idx.set('libtommath1', { name: 'libtommath1', version: '1', filename: 'x.deb', sha256: 'f'.repeat(64), size: 1, depends: [] });
  assert.deepEqual(resolvePackages(idx, ['dropbear-bin']).map((p) => p.name), ['dropbear-bin', 'libc6', 'libtomcrypt1', 'zlib1g', 'libgcc-s1', 'libtommath1']);
});

test('InRelease: only the signed text counts; SHA256 entries by path', () => {
  const signed = `Origin: Debian\nSHA256:\n ${'1'.repeat(64)}  8689464 main/binary-arm64/Packages.xz\nMD5Sum:\n 00  1 main/binary-arm64/Packages.xz\n`;
  const file = `-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n${signed}\n-----BEGIN PGP SIGNATURE-----\nxx\n-----END PGP SIGNATURE-----\nSHA256:\n ${'2'.repeat(64)} 1 main/binary-riscv64/Packages.xz\n`;
  const m = parseReleaseSha256(clearsignedText(file));
  assert.deepEqual(m.get('main/binary-arm64/Packages.xz'), { sha256: '1'.repeat(64), size: 8689464 });
  assert.equal(m.get('main/binary-riscv64/Packages.xz'), undefined, 'text after the signature is ignored');
  assert.throws(() => clearsignedText(signed), /not a clearsigned/);
});

test('modules.dep: load order with dependencies first (last listed loads first), built-ins skipped, missing ones named', () => {
  const dep = parseModulesDep(['kernel/drivers/net/virtio_net.ko.xz: kernel/drivers/net/net_failover.ko.xz kernel/net/core/failover.ko.xz',
    'kernel/drivers/net/net_failover.ko.xz: kernel/net/core/failover.ko.xz', 'kernel/net/core/failover.ko.xz:',
    'kernel/drivers/char/hw_random/virtio-rng.ko:'].join('\n'));
  const r = moduleLoadOrderFromDep(dep, new Set(['virtio_pci']), ['virtio_pci', 'failover', 'virtio_net', 'virtio_rng', 'nope']);
  assert.deepEqual(r.files, ['kernel/net/core/failover.ko.xz', 'kernel/drivers/net/net_failover.ko.xz', 'kernel/drivers/net/virtio_net.ko.xz', 'kernel/drivers/char/hw_random/virtio-rng.ko']);
  assert.deepEqual(r.missing, ['nope']);
});

test('mirror: the first Debian URI of the apt sources, else deb.debian.org', () => {
  assert.equal(mirrorFromSources(['Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm\n']), 'http://mirror.example/debian');
  assert.equal(mirrorFromSources(['deb [arch=amd64] https://m.example/debian bookworm main\n']), 'https://m.example/debian');
  assert.equal(mirrorFromSources(['URIs: http://deb.debian.org/debian-security\n', '']), 'http://deb.debian.org/debian');
});
