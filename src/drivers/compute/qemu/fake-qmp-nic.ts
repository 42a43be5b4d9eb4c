import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/*
 * A stand-in for QEMU 7.2's network devices over QMP, for unit tests of nic-ops: tap netdevs,
 * virtio-net-pci devices on pcie.0 or on the hot-plug root ports hotplug0-7 (functions of slot
 * 0x1b), disks occupying ports, QOM (qom-list/qom-get) and query-pci. The error texts, the
 * two DEVICE_DELETED events and the query-pci/QOM shapes are those the real QEMU 7.2 gave
 * (see nic-ops.system.test.ts).
 */

type Args = Record<string, unknown>;
interface Dev { driver: string; bus: string; mac?: string; netdev?: string; addr: number; pending?: boolean }

const PCIE0 = '/machine/q35/pcie.0';

/** A fake QEMU's NIC state plus the commands it received. */
export class FakeNicQemu {
  readonly netdevs = new Map<string, { ifname: string }>();
  readonly devices = new Map<string, Dev>();
  /** Commands received (qmp_capabilities excepted). */
  readonly calls: { cmd: string; args?: Args }[] = [];
  /** Commands and emitted events in order: `cmd <name>` / `event <name> <device>`. */
  readonly log: string[] = [];
  /** Taps QEMU may open (existing and owned by its user); others fail as "Operation not permitted". */
  readonly taps = new Set<string>();
  /** Whether the guest answers device_del (otherwise DEVICE_DELETED never comes). */
  guestReleases = true;
  /** Whether the guest has numbered the ports' buses (query-pci shows nothing behind a port before). */
  enumerated = true;
  /** Commands that fail with this error desc (GenericError). */
  failing = new Map<string, string>();
  private socks = new Set<Socket>();

  constructor(readonly ports = 8) {}

  /** A NIC given at VM start: tap netdev + virtio-net-pci on pcie.0 at slot 3+index. */
  coldNic(id: string, tap: string, mac: string, index = 0): void {
    this.taps.add(tap);
    this.netdevs.set(`net-${id}`, { ifname: tap });
    this.devices.set(`nic-${id}`, { driver: 'virtio-net-pci', bus: 'pcie.0', mac, netdev: `net-${id}`, addr: (3 + index) << 3 });
  }

  /** A hot-plugged disk occupying a root port. */
  hotDisk(id: string, port: string): void {
    this.devices.set(`disk-${id}`, { driver: 'virtio-blk-pci', bus: port, addr: 0 });
  }

  emit(event: string, data?: Args): void {
    this.log.push(`event ${event} ${String(data?.device ?? data?.path ?? '')}`);
    for (const s of this.socks) s.write(JSON.stringify({ event, data, timestamp: { seconds: 0, microseconds: 0 } }) + '\r\n');
  }

  private portNames(): string[] {
    return Array.from({ length: this.ports }, (_, i) => `hotplug${i}`);
  }

  private pci(): unknown[] {
    const ETH = { class: 512, desc: 'Ethernet controller' };
    const STORAGE = { class: 256, desc: 'SCSI controller' };
    const info = (id: string, d: Dev, bus: number) => ({
      bus, slot: d.addr >> 3, function: d.addr & 7, qdev_id: id, class_info: d.driver === 'virtio-net-pci' ? ETH : STORAGE,
      id: { vendor: 0x1af4, device: d.driver === 'virtio-net-pci' ? 0x1041 : 0x1042 },
    });
    const cold = [...this.devices].filter(([, d]) => d.bus === 'pcie.0').map(([id, d]) => info(id, d, 0));
    const ports = this.portNames().map((p, i) => {
      const behind = [...this.devices].filter(([, d]) => d.bus === p).map(([id, d]) => info(id, d, i + 1));
      const bus = { number: this.enumerated ? i + 1 : 0, secondary: this.enumerated ? i + 1 : 0, subordinate: this.enumerated ? i + 1 : 0 };
      return {
        bus: 0, slot: 0x1b, function: i, qdev_id: p, class_info: { class: 1540, desc: 'PCI bridge' },
        pci_bridge: { bus, ...(this.enumerated ? { devices: behind } : {}) },
      };
    });
    return [{ bus: 0, devices: [{ bus: 0, slot: 0, function: 0, qdev_id: '', class_info: { class: 1536, desc: 'Host bridge' } }, ...cold, ...ports] }];
  }

  private qomGet(a: Args): { ret?: unknown; error?: { class: string; desc: string } } {
    const m = /^\/machine\/peripheral\/([^/]+)$/.exec(String(a.path));
    const d = m ? this.devices.get(m[1]!) : undefined;
    if (!m || !d) return { error: { class: 'DeviceNotFound', desc: `Device '${String(a.path)}' not found` } };
    switch (a.property) {
      case 'mac': return d.mac !== undefined ? { ret: d.mac.toLowerCase() } : { error: { class: 'GenericError', desc: `Property 'mac' not found` } };
      case 'netdev': return { ret: d.netdev ?? '' };
      case 'addr': return { ret: d.addr };
      case 'parent_bus': return { ret: d.bus === 'pcie.0' ? PCIE0 : `/machine/peripheral/${d.bus}/${d.bus}` };
      default: return { error: { class: 'GenericError', desc: `Property '${String(a.property)}' not found` } };
    }
  }

  /** Handle one command: a return value, or { error } with QEMU's class/desc. */
  handle(cmd: string, a: Args = {}): { ret?: unknown; error?: { class: string; desc: string } } {
    this.calls.push({ cmd, ...(Object.keys(a).length ? { args: a } : {}) });
    this.log.push(`cmd ${cmd}`);
    const err = (desc: string, cls = 'GenericError') => ({ error: { class: cls, desc } });
    if (this.failing.has(cmd)) return err(this.failing.get(cmd)!);
    switch (cmd) {
      case 'query-pci': return { ret: this.pci() };
      case 'qom-list': {
        if (a.path !== '/machine/peripheral') return err(`Device '${String(a.path)}' not found`, 'DeviceNotFound');
        const kids = [...this.portNames().map((p) => [p, 'pcie-root-port']), ...[...this.devices].map(([id, d]) => [id, d.driver])];
        kids.reverse(); // QEMU lists children in hash order, not creation order
        return { ret: [{ name: 'type', type: 'string' }, ...kids.map(([name, t]) => ({ name, type: `child<${t}>` }))] };
      }
      case 'qom-get': return this.qomGet(a);
      case 'netdev_add': {
        const id = String(a.id);
        const ifname = String(a.ifname);
        if (a.type !== 'tap') return err(`Parameter 'type' does not accept value '${String(a.type)}'`);
        if (this.netdevs.has(id)) return err(`Duplicate ID '${id}'`);
        if (!this.taps.has(ifname)) return err(`could not configure /dev/net/tun (${ifname}): Operation not permitted`);
        if ([...this.netdevs.values()].some((n) => n.ifname === ifname)) return err(`could not configure /dev/net/tun (${ifname}): Device or resource busy`);
        this.netdevs.set(id, { ifname });
        return { ret: {} };
      }
      case 'netdev_del': {
        const id = String(a.id);
        if (!this.netdevs.has(id)) return err(`Device '${id}' not found`, 'DeviceNotFound');
        this.netdevs.delete(id);
        return { ret: {} };
      }
      case 'device_add': {
        const id = String(a.id);
        const bus = String(a.bus);
        const netdev = String(a.netdev);
        if (this.devices.has(id)) return err(`Duplicate device ID '${id}'`);
        if (bus === 'pcie.0') return err(`Bus 'pcie.0' does not support hotplugging`);
        if (!this.portNames().includes(bus)) return err(`Bus '${bus}' not found`, 'DeviceNotFound');
        if (!this.netdevs.has(netdev)) return err(`Property 'virtio-net-device.netdev' can't find value '${netdev}'`);
        if ([...this.devices.values()].some((d) => d.netdev === netdev)) return err(`Property 'virtio-net-device.netdev' can't take value '${netdev}', it's in use`);
        const busy = [...this.devices].find(([, d]) => d.bus === bus);
        if (busy) return err(`PCI: slot 0 function 0 not available for ${String(a.driver)}, in use by ${busy[1].driver},id=${busy[0]}`);
        this.devices.set(id, { driver: String(a.driver), bus, mac: String(a.mac), netdev, addr: 0 });
        return { ret: {} };
      }
      case 'device_del': {
        const id = String(a.id);
        const d = this.devices.get(id);
        if (!d) return err(`Device '${id}' not found`, 'DeviceNotFound');
        if (d.bus === 'pcie.0') return err(`Bus 'pcie.0' does not support hotplugging`);
        if (d.pending) return err(`Device ${id} is already in the process of unplug`);
        d.pending = true;
        if (this.guestReleases) setTimeout(() => this.release(id), 20);
        return { ret: {} };
      }
      default: return err(`The command ${cmd} has not been found`, 'CommandNotFound');
    }
  }

  /** The guest lets go of a device being unplugged: it disappears, then the two DEVICE_DELETED events. */
  release(id: string): void {
    this.devices.delete(id);
    this.emit('DEVICE_DELETED', { path: `/machine/peripheral/${id}/virtio-backend` });
    this.emit('DEVICE_DELETED', { device: id, path: `/machine/peripheral/${id}` });
  }

  /** Send this fake's events to a QMP connection served elsewhere (a fake QEMU process). */
  addClient(sock: Socket): void {
    this.socks.add(sock);
    sock.on('close', () => this.socks.delete(sock));
  }

  /** Serve QMP on a fresh temp socket; returns its path and a stop function. */
  async listen(): Promise<{ path: string; stop: () => void }> {
    const dir = mkdtempSync(join(tmpdir(), 'qn-fake-'));
    const path = join(dir, 'qmp.sock');
    const server = createServer((sock) => {
      this.socks.add(sock);
      sock.on('close', () => this.socks.delete(sock));
      sock.on('error', () => {});
      sock.write(JSON.stringify({ QMP: { version: { qemu: { major: 7, minor: 2, micro: 0 }, package: 'fake' }, capabilities: [] } }) + '\r\n');
      let buf = '';
      sock.on('data', (d) => {
        buf += d.toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const msg = JSON.parse(buf.slice(0, nl)) as { execute: string; id?: string; arguments?: Args };
          buf = buf.slice(nl + 1);
          const r = msg.execute === 'qmp_capabilities' ? { ret: {} } : this.handle(msg.execute, msg.arguments);
          sock.write(JSON.stringify(r.error ? { error: r.error, id: msg.id } : { return: r.ret, id: msg.id }) + '\r\n');
        }
      });
    });
    await new Promise<void>((r) => server.listen(path, r));
    return {
      path,
      stop: () => {
        for (const s of this.socks) s.destroy();
        server.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
}
