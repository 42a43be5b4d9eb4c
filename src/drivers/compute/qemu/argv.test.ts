import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diskNodeNames, HOTPLUG_PORTS, MAX_DISKS, MAX_NICS, renderQemuArgv, validateNic } from './argv.js';
import type { VmSpec } from '../types.js';
import { NimboError } from '../../../lib/errors.js';

const base = { name: 'web-1', uuid: '6f1c2b9e-3a4d-4e5f-8a7b-9c0d1e2f3a4b', cpus: 2, memoryMiB: 1024, runDir: '/run/nimbo/vms/web-1' };

const directSpec: VmSpec = {
  ...base,
  accelerator: 'tcg',
  runAs: 'nimbo-qemu',
  boot: { kind: 'direct', kernel: '/var/lib/nimbo/images/tiny/vmlinuz', initrd: '/var/lib/nimbo/images/tiny/initrd.img', cmdline: 'console=ttyS0 root=/dev/vda rw' },
  disks: [
    { id: 'root', path: '/var/lib/nimbo/pools/default/web-1.qcow2', format: 'qcow2' },
    { id: 'seed', path: '/var/lib/nimbo/seeds/web,1.iso', format: 'raw', readOnly: true },
  ],
  nics: [{ id: 'eth0', tap: 'nmb-tap0', mac: '52:54:00:AB:CD:01' }],
};

const diskSpec: VmSpec = {
  ...base,
  accelerator: 'kvm',
  boot: { kind: 'disk' },
  disks: [{ id: '0b7e5b4c-1d2e-4f3a-9b8c-7d6e5f4a3b2c', path: '/var/lib/nimbo/pools/default/db.raw', format: 'raw' }],
  nics: [
    { id: 'n0', tap: 'tap-a', mac: '52:54:00:00:00:0a' },
    { id: 'n1', tap: 'tap-b', mac: '52:54:00:00:00:0b' },
  ],
};

test('golden: direct kernel boot under TCG, runAs, a read-only disk with a comma in its path', () => {
  assert.deepEqual(renderQemuArgv(directSpec), [
    'qemu-system-x86_64',
    '-name', 'guest=web-1,debug-threads=on',
    '-uuid', '6f1c2b9e-3a4d-4e5f-8a7b-9c0d1e2f3a4b',
    '-machine', 'q35',
    '-accel', 'tcg,thread=multi',
    '-cpu', 'max',
    '-smp', '2',
    '-m', '1024M',
    '-nodefaults',
    '-no-user-config',
    '-display', 'none',
    '-vga', 'none',
    '-device', 'VGA,id=video0,bus=pcie.0,addr=0x1',
    '-vnc', 'unix:/run/nimbo/vms/web-1/vnc.sock',
    '-qmp', 'unix:/run/nimbo/vms/web-1/qmp.sock,server=on,wait=off',
    '-chardev', 'socket,id=serial0,path=/run/nimbo/vms/web-1/serial.sock,server=on,wait=off',
    '-serial', 'chardev:serial0',
    '-object', 'rng-random,id=rng0,filename=/dev/urandom',
    '-device', 'virtio-rng-pci,rng=rng0,id=rng-dev0,bus=pcie.0,addr=0x2',
    '-device', 'virtio-balloon-pci,id=balloon0,bus=pcie.0,addr=0x1d,free-page-reporting=on',
    '-netdev', 'tap,id=net-eth0,ifname=nmb-tap0,script=no,downscript=no',
    '-device', 'virtio-net-pci,netdev=net-eth0,id=nic-eth0,mac=52:54:00:ab:cd:01,bus=pcie.0,addr=0x3,romfile=',
    '-blockdev', '{"driver":"file","node-name":"f-root","filename":"/var/lib/nimbo/pools/default/web-1.qcow2","read-only":false,"discard":"unmap"}',
    '-blockdev', '{"driver":"qcow2","node-name":"d-root","file":"f-root","read-only":false,"discard":"unmap"}',
    '-device', 'virtio-blk-pci,drive=d-root,id=disk-root,bus=pcie.0,addr=0xb',
    '-blockdev', '{"driver":"file","node-name":"f-seed","filename":"/var/lib/nimbo/seeds/web,1.iso","read-only":true,"discard":"unmap"}',
    '-blockdev', '{"driver":"raw","node-name":"d-seed","file":"f-seed","read-only":true,"discard":"unmap"}',
    '-device', 'virtio-blk-pci,drive=d-seed,id=disk-seed,bus=pcie.0,addr=0xc',
    '-device', 'pcie-root-port,id=hotplug0,chassis=1,port=0x10,bus=pcie.0,addr=0x1b.0,multifunction=on',
    '-device', 'pcie-root-port,id=hotplug1,chassis=2,port=0x11,bus=pcie.0,addr=0x1b.1',
    '-device', 'pcie-root-port,id=hotplug2,chassis=3,port=0x12,bus=pcie.0,addr=0x1b.2',
    '-device', 'pcie-root-port,id=hotplug3,chassis=4,port=0x13,bus=pcie.0,addr=0x1b.3',
    '-device', 'pcie-root-port,id=hotplug4,chassis=5,port=0x14,bus=pcie.0,addr=0x1b.4',
    '-device', 'pcie-root-port,id=hotplug5,chassis=6,port=0x15,bus=pcie.0,addr=0x1b.5',
    '-device', 'pcie-root-port,id=hotplug6,chassis=7,port=0x16,bus=pcie.0,addr=0x1b.6',
    '-device', 'pcie-root-port,id=hotplug7,chassis=8,port=0x17,bus=pcie.0,addr=0x1b.7',
    '-chardev', 'socket,id=qga0,path=/run/nimbo/vms/web-1/qga.sock,server=on,wait=off',
    '-device', 'virtio-serial-pci,id=vserial0,bus=pcie.0,addr=0x1c',
    '-device', 'virtserialport,bus=vserial0.0,chardev=qga0,id=qga-port0,name=org.qemu.guest_agent.0',
    '-kernel', '/var/lib/nimbo/images/tiny/vmlinuz',
    '-initrd', '/var/lib/nimbo/images/tiny/initrd.img',
    '-append', 'console=ttyS0 root=/dev/vda rw',
    '-D', '/run/nimbo/vms/web-1/qemu.log',
    '-msg', 'timestamp=on',
    '-sandbox', 'on,obsolete=deny,resourcecontrol=deny',
    '-runas', 'nimbo-qemu',
    '-daemonize',
    '-pidfile', '/run/nimbo/vms/web-1/qemu.pid',
  ]);
});

test('golden: disk boot under KVM, custom binary, uuid disk id hashed into a short node name', () => {
  assert.deepEqual(renderQemuArgv(diskSpec, { binary: '/usr/bin/qemu-system-x86_64' }), [
    '/usr/bin/qemu-system-x86_64',
    '-name', 'guest=web-1,debug-threads=on',
    '-uuid', '6f1c2b9e-3a4d-4e5f-8a7b-9c0d1e2f3a4b',
    '-machine', 'q35',
    '-accel', 'kvm',
    '-cpu', 'qemu64,+ssse3,+sse4.1,+sse4.2,+popcnt',
    '-smp', '2',
    '-m', '1024M',
    '-nodefaults',
    '-no-user-config',
    '-display', 'none',
    '-vga', 'none',
    '-device', 'VGA,id=video0,bus=pcie.0,addr=0x1',
    '-vnc', 'unix:/run/nimbo/vms/web-1/vnc.sock',
    '-qmp', 'unix:/run/nimbo/vms/web-1/qmp.sock,server=on,wait=off',
    '-chardev', 'socket,id=serial0,path=/run/nimbo/vms/web-1/serial.sock,server=on,wait=off',
    '-serial', 'chardev:serial0',
    '-object', 'rng-random,id=rng0,filename=/dev/urandom',
    '-device', 'virtio-rng-pci,rng=rng0,id=rng-dev0,bus=pcie.0,addr=0x2',
    '-device', 'virtio-balloon-pci,id=balloon0,bus=pcie.0,addr=0x1d,free-page-reporting=on',
    '-netdev', 'tap,id=net-n0,ifname=tap-a,script=no,downscript=no',
    '-device', 'virtio-net-pci,netdev=net-n0,id=nic-n0,mac=52:54:00:00:00:0a,bus=pcie.0,addr=0x3,romfile=',
    '-netdev', 'tap,id=net-n1,ifname=tap-b,script=no,downscript=no',
    '-device', 'virtio-net-pci,netdev=net-n1,id=nic-n1,mac=52:54:00:00:00:0b,bus=pcie.0,addr=0x4,romfile=',
    '-blockdev', '{"driver":"file","node-name":"f-h44d0ec631d1293b2","filename":"/var/lib/nimbo/pools/default/db.raw","read-only":false,"discard":"unmap"}',
    '-blockdev', '{"driver":"raw","node-name":"d-h44d0ec631d1293b2","file":"f-h44d0ec631d1293b2","read-only":false,"discard":"unmap"}',
    '-device', 'virtio-blk-pci,drive=d-h44d0ec631d1293b2,id=disk-0b7e5b4c-1d2e-4f3a-9b8c-7d6e5f4a3b2c,bus=pcie.0,addr=0xb,bootindex=1',
    '-device', 'pcie-root-port,id=hotplug0,chassis=1,port=0x10,bus=pcie.0,addr=0x1b.0,multifunction=on',
    '-device', 'pcie-root-port,id=hotplug1,chassis=2,port=0x11,bus=pcie.0,addr=0x1b.1',
    '-device', 'pcie-root-port,id=hotplug2,chassis=3,port=0x12,bus=pcie.0,addr=0x1b.2',
    '-device', 'pcie-root-port,id=hotplug3,chassis=4,port=0x13,bus=pcie.0,addr=0x1b.3',
    '-device', 'pcie-root-port,id=hotplug4,chassis=5,port=0x14,bus=pcie.0,addr=0x1b.4',
    '-device', 'pcie-root-port,id=hotplug5,chassis=6,port=0x15,bus=pcie.0,addr=0x1b.5',
    '-device', 'pcie-root-port,id=hotplug6,chassis=7,port=0x16,bus=pcie.0,addr=0x1b.6',
    '-device', 'pcie-root-port,id=hotplug7,chassis=8,port=0x17,bus=pcie.0,addr=0x1b.7',
    '-chardev', 'socket,id=qga0,path=/run/nimbo/vms/web-1/qga.sock,server=on,wait=off',
    '-device', 'virtio-serial-pci,id=vserial0,bus=pcie.0,addr=0x1c',
    '-device', 'virtserialport,bus=vserial0.0,chardev=qga0,id=qga-port0,name=org.qemu.guest_agent.0',
    '-D', '/run/nimbo/vms/web-1/qemu.log',
    '-msg', 'timestamp=on',
    '-sandbox', 'on,obsolete=deny,resourcecontrol=deny',
    '-daemonize',
    '-pidfile', '/run/nimbo/vms/web-1/qemu.pid',
  ]);
});

test('commas in the VM name are escaped for QemuOpts; cpuModel override', () => {
  const argv = renderQemuArgv({ ...diskSpec, name: 'a,b' }, { cpuModel: 'Haswell-v4' });
  assert.equal(argv[argv.indexOf('-name') + 1], 'guest=a,,b,debug-threads=on');
  assert.equal(argv[argv.indexOf('-cpu') + 1], 'Haswell-v4');
});

test('node names stay within QEMU limits and are stable', () => {
  assert.deepEqual(diskNodeNames('root'), { file: 'f-root', format: 'd-root' });
  const long = diskNodeNames('x'.repeat(60));
  assert.ok(long.format.length <= 31);
  assert.deepEqual(diskNodeNames('x'.repeat(60)), long);
});

test('bad specs are rejected with InvalidArgument', () => {
  const bad: Partial<VmSpec>[] = [
    { runDir: 'relative/dir' },
    { runDir: '/run/a,b' },
    { uuid: 'not-a-uuid' },
    { cpus: 0 },
    { memoryMiB: 8 },
    { nics: [{ id: 'n0', tap: 'tap,x', mac: '52:54:00:00:00:0a' }] },
    { nics: [{ id: 'n0', tap: 'tap0', mac: '52:54:00:00:00' }] },
    { nics: Array.from({ length: 9 }, (_, i) => ({ id: `n${i}`, tap: `t${i}`, mac: '52:54:00:00:00:0a' })) },
    { disks: [{ id: 'a,b', path: '/x.raw', format: 'raw' }] },
    { disks: [{ id: 'a', path: 'x.raw', format: 'raw' }] },
    { disks: [] },
    { runAs: '-runas' },
    { runAs: '0:0' }, // never root
    { runAs: '2000000007' },
    { runAs: '2000000007:x' },
    { runAs: '12345678901:1' },
  ];
  for (const b of bad) {
    assert.throws(() => renderQemuArgv({ ...diskSpec, ...b }), (e: unknown) => e instanceof NimboError && e.code === 'InvalidArgument', JSON.stringify(b));
  }
});

test('PCI layout: cold NICs and disks keep their slots; eight hot-plug root ports share slot 0x1b', () => {
  const spec: VmSpec = {
    ...diskSpec,
    disks: Array.from({ length: MAX_DISKS }, (_, i) => ({ id: `d${i}`, path: `/p/d${i}.raw`, format: 'raw' as const })),
    nics: Array.from({ length: MAX_NICS }, (_, i) => ({ id: `n${i}`, tap: `t${i}`, mac: `52:54:00:00:00:${(16 + i).toString(16)}` })),
  };
  const argv = renderQemuArgv(spec);
  // PCI devices only (the agent's virtserialport sits on the virtio-serial bus, not on a PCI slot).
  const addrs = argv.filter((a, i) => argv[i - 1] === '-device' && /addr=/.test(a)).map((a) => [/id=([^,]+)/.exec(a)![1], /addr=([^,]+)/.exec(a)![1]]);
  const slotOf = (addr: string) => Number.parseInt(addr.split('.')[0]!, 16);
  assert.deepEqual(addrs.filter(([id]) => id!.startsWith('nic-')).map(([, a]) => a), ['0x3', '0x4', '0x5', '0x6', '0x7', '0x8', '0x9', '0xa']);
  assert.deepEqual(addrs.filter(([id]) => id!.startsWith('disk-')).map(([, a]) => slotOf(a!)), Array.from({ length: 16 }, (_, i) => 0x0b + i));
  assert.deepEqual(addrs.filter(([id]) => id!.startsWith('hotplug')).map(([id, a]) => `${id}@${a}`),
    Array.from({ length: HOTPLUG_PORTS }, (_, i) => `hotplug${i}@0x1b.${i}`));
  assert.equal(HOTPLUG_PORTS, 8);
  assert.deepEqual(addrs.filter(([id]) => id === 'vserial0').map(([, a]) => a), ['0x1c']);
  // Every device has its own slot/function; nothing reaches q35's own slot 0x1f.
  const used = addrs.map(([, a]) => (a!.includes('.') ? a : `${a}.0`));
  assert.equal(new Set(used).size, used.length);
  assert.ok(addrs.every(([, a]) => slotOf(a!) < 0x1f));
  // Unique chassis and port numbers; only function 0 carries multifunction=on.
  const ports = argv.filter((a) => a.startsWith('pcie-root-port,'));
  assert.equal(new Set(ports.map((p) => /chassis=(\w+)/.exec(p)![1])).size, 8);
  assert.equal(new Set(ports.map((p) => /port=(\w+)/.exec(p)![1])).size, 8);
  assert.deepEqual(ports.map((p) => p.endsWith(',multifunction=on')), [true, false, false, false, false, false, false, false]);
});

test('validateNic (shared with NIC hot-plug)', () => {
  validateNic({ id: 'n0', tap: 'nmb-tap0', mac: '52:54:00:AB:CD:01' });
  assert.throws(() => validateNic({ id: '-x', tap: 't', mac: '52:54:00:00:00:01' }), /invalid NIC id/);
  assert.throws(() => validateNic({ id: 'x', tap: 'a-very-long-tap-name', mac: '52:54:00:00:00:01' }), /invalid tap name/);
  assert.throws(() => validateNic({ id: 'x', tap: 't', mac: '52-54-00-00-00-01' }), /invalid MAC/);
});

test('hot-add room: -smp with maxcpus, -m with DIMM slots and maxmem; none when max equals the boot size', () => {
  const argv = renderQemuArgv({ ...directSpec, cpus: 1, maxCpus: 4, memoryMiB: 128, maxMemoryMiB: 512 });
  assert.equal(argv[argv.indexOf('-smp') + 1], '1,maxcpus=4');
  assert.equal(argv[argv.indexOf('-m') + 1], '128M,slots=8,maxmem=512M');
  const same = renderQemuArgv({ ...directSpec, maxCpus: directSpec.cpus, maxMemoryMiB: directSpec.memoryMiB });
  assert.deepEqual(same, renderQemuArgv(directSpec), 'max == boot size: byte-identical argv');
  // Only one of the two has room.
  const cpuOnly = renderQemuArgv({ ...directSpec, maxCpus: 3 });
  assert.equal(cpuOnly[cpuOnly.indexOf('-smp') + 1], '2,maxcpus=3');
  assert.equal(cpuOnly[cpuOnly.indexOf('-m') + 1], '1024M');
});

test('a maximum below the boot size is refused', () => {
  assert.throws(() => renderQemuArgv({ ...directSpec, maxCpus: 1 }), (e: unknown) => e instanceof NimboError && /maxCpus/.test(e.message));
  assert.throws(() => renderQemuArgv({ ...directSpec, maxMemoryMiB: 512 }), (e: unknown) => e instanceof NimboError && /maxMemoryMiB/.test(e.message));
});

test('a CD-ROM drive: ide-cd on the ICH9 AHCI port 2, read-only ISO, booted before the disk; empty when no path', () => {
  const iso = '/var/lib/nimbo/images/deb/disk.iso';
  const spec: VmSpec = { ...diskSpec, cdrom: { path: iso } };
  const argv = renderQemuArgv(spec);
  const i = argv.indexOf('ide-cd,id=cdrom0,bus=ide.2,bootindex=0,drive=d-cdrom');
  assert.ok(i > 0, argv.join(' '));
  assert.deepEqual(JSON.parse(argv[i - 4]!), { driver: 'file', 'node-name': 'f-cdrom', filename: iso, 'read-only': true });
  assert.deepEqual(JSON.parse(argv[i - 2]!), { driver: 'raw', 'node-name': 'd-cdrom', file: 'f-cdrom', 'read-only': true });
  assert.ok(argv.some((a) => a.startsWith('virtio-blk-pci,') && a.endsWith(',bootindex=1')), 'the disk boots second');
  const empty = renderQemuArgv({ ...diskSpec, cdrom: {} });
  assert.ok(empty.includes('ide-cd,id=cdrom0,bus=ide.2,bootindex=0'));
  assert.ok(!empty.some((a) => a.includes('cdrom"')), 'no medium nodes');
  assert.ok(!renderQemuArgv(diskSpec).some((a) => a.startsWith('ide-cd')), 'no drive unless asked for');
  assert.throws(() => renderQemuArgv({ ...diskSpec, cdrom: { path: 'rel.iso' } }), NimboError);
  assert.throws(() => renderQemuArgv({ ...directSpec, cdrom: {} }), /boots from it or its disk/);
});

test('a warm start waits for its saved state: -S and -incoming defer, the device layout unchanged', () => {
  const cold = renderQemuArgv(diskSpec);
  const warm = renderQemuArgv({ ...diskSpec, incoming: { stateFile: '/images/t/state.bin' } });
  assert.deepEqual(warm.slice(warm.indexOf('-incoming'), warm.indexOf('-incoming') + 2), ['-incoming', 'defer']);
  assert.ok(warm.includes('-S'));
  assert.ok(!warm.some((a) => a.includes('state.bin')), 'the state comes over QMP, not on the command line');
  assert.deepEqual(warm.filter((a) => a !== '-S' && a !== '-incoming' && a !== 'defer'), cold.filter((a) => a !== '-S'));
});
