import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/*
 * A stand-in for QEMU 7.2's block layer over QMP, for unit tests of block-ops / vm-state:
 * nodes, virtio-blk devices on pcie.0 or hot-plug ports, throttling, resize, snapshot jobs.
 * Behaviour (event-before-reply of snapshot jobs, the two DEVICE_DELETED events, the error
 * texts) follows what the real QEMU 7.2 did in block-ops.system.test.ts.
 */

type Args = Record<string, unknown>;
interface Node { driver: string; file?: string; filename?: string; ro: boolean; size: number; snaps: { name: string; vm: number }[] }
interface Dev { drive: string; bus: string }

/** A fake QEMU's block state plus the commands it received. */
export class FakeBlockQemu {
  readonly nodes = new Map<string, Node>();
  readonly devices = new Map<string, Dev>();
  readonly calls: { cmd: string; args?: Args }[] = [];
  readonly jobs = new Map<string, { type: string; status: string; error?: string }>();
  /** Whether the guest answers device_del (otherwise DEVICE_DELETED never comes). */
  guestReleases = true;
  /** Commands that fail with this error desc (GenericError). */
  failing = new Map<string, string>();
  running = true;
  private socks = new Set<Socket>();

  /** Add a cold-plugged disk (file + format node + device on pcie.0). */
  coldDisk(id: string, format: string, path: string, size: number, ro = false): void {
    this.nodes.set(`f-${id}`, { driver: 'file', filename: path, ro, size, snaps: [] });
    this.nodes.set(`d-${id}`, { driver: format, file: `f-${id}`, ro, size, snaps: [] });
    this.devices.set(`disk-${id}`, { drive: `d-${id}`, bus: 'pcie.0' });
  }

  emit(event: string, data?: Args): void {
    for (const s of this.socks) s.write(JSON.stringify({ event, data, timestamp: { seconds: 0, microseconds: 0 } }) + '\r\n');
  }

  private pci(): unknown[] {
    const behind = (port: string) => [...this.devices].filter(([, d]) => d.bus === port).map(([id]) => ({ qdev_id: id, bus: 1, slot: 0 }));
    const cold = [...this.devices].filter(([, d]) => d.bus === 'pcie.0').map(([id], i) => ({ qdev_id: id, bus: 0, slot: 11 + i }));
    const ports = [0, 1, 2, 3].map((i) => ({ qdev_id: `hotplug${i}`, bus: 0, slot: 27 + i, pci_bridge: { devices: behind(`hotplug${i}`) } }));
    return [{ bus: 0, devices: [{ qdev_id: '', bus: 0, slot: 0 }, ...cold, ...ports] }];
  }

  private block(): unknown[] {
    return [...this.devices].map(([id, d]) => {
      const n = this.nodes.get(d.drive)!;
      const snapshots = n.snaps.map((s, i) => ({ id: String(i + 1), name: s.name, 'vm-state-size': s.vm, 'date-sec': 1000 + i, 'vm-clock-sec': 1, 'vm-clock-nsec': 5 }));
      const th = (n as Node & { th?: Args }).th ?? {};
      return {
        device: '', qdev: `/machine/peripheral/${id}/virtio-backend`,
        inserted: { 'node-name': d.drive, drv: n.driver, file: this.nodes.get(n.file!)?.filename, ro: n.ro, iops_rd: 0, iops_wr: 0, bps_rd: 0, bps_wr: 0, ...th,
          image: { 'virtual-size': n.size, ...(snapshots.length ? { snapshots } : {}) } },
      };
    });
  }

  private runJob(type: string, a: Args, work: () => string | undefined): void {
    const id = String(a['job-id']);
    const set = (status: string) => this.emit('JOB_STATUS_CHANGE', { id, status });
    set('created');
    set('running');
    const error = work();
    this.jobs.set(id, { type, status: 'concluded', ...(error ? { error } : {}) });
    if (error) set('aborting');
    set('concluded');
  }

  private snapNodes(a: Args): Node[] {
    return (a.devices as string[]).map((n) => this.nodes.get(n)!);
  }

  /** Handle one command: a return value, or { error } with QEMU's class/desc. */
  handle(cmd: string, a: Args = {}): { ret?: unknown; error?: { class: string; desc: string } } {
    this.calls.push({ cmd, ...(Object.keys(a).length ? { args: a } : {}) });
    const err = (desc: string, cls = 'GenericError') => ({ error: { class: cls, desc } });
    if (this.failing.has(cmd)) return err(this.failing.get(cmd)!);
    switch (cmd) {
      case 'query-pci': return { ret: this.pci() };
      case 'query-block': return { ret: this.block() };
      case 'query-status': return { ret: { status: this.running ? 'running' : 'paused', running: this.running } };
      case 'query-named-block-nodes': return { ret: [...this.nodes.keys()].map((n) => ({ 'node-name': n })) };
      case 'query-jobs': return { ret: [...this.jobs].map(([id, j]) => ({ id, ...j })) };
      case 'job-dismiss': this.jobs.delete(String(a.id)); return { ret: {} };
      case 'blockdev-add': {
        const name = String(a['node-name']);
        if (this.nodes.has(name)) return err(`Duplicate nodes with node-name='${name}'`);
        if (a.file !== undefined && !this.nodes.has(String(a.file))) return err(`Cannot find device='' nor node-name='${String(a.file)}'`);
        this.nodes.set(name, { driver: String(a.driver), file: a.file as string | undefined, filename: a.filename as string | undefined, ro: a['read-only'] === true, size: 32 << 20, snaps: [] });
        return { ret: {} };
      }
      case 'blockdev-del': {
        const name = String(a['node-name']);
        if (!this.nodes.has(name)) return err(`Failed to find node with node-name='${name}'`);
        if ([...this.devices.values()].some((d) => d.drive === name) || [...this.nodes.values()].some((n) => n.file === name)) return err(`Node '${name}' is busy: node is used as backing hd`);
        this.nodes.delete(name);
        return { ret: {} };
      }
      case 'device_add': {
        const id = String(a.id);
        if (this.devices.has(id)) return err(`Duplicate device ID '${id}'`);
        if (!this.nodes.has(String(a.drive))) return err(`Parameter 'drive' expects a block device`);
        this.devices.set(id, { drive: String(a.drive), bus: String(a.bus) });
        return { ret: {} };
      }
      case 'device_del': {
        const id = String(a.id);
        const d = this.devices.get(id) as (Dev & { pending?: boolean }) | undefined;
        if (!d) return err(`Device '${id}' not found`, 'DeviceNotFound');
        if (d.bus === 'pcie.0') return err(`Bus 'pcie.0' does not support hotplugging`);
        if (d.pending) return err(`Device ${id} is already in the process of unplug`);
        d.pending = true;
        if (this.guestReleases) {
          setTimeout(() => {
            this.devices.delete(id);
            this.emit('DEVICE_DELETED', { path: `/machine/peripheral/${id}/virtio-backend` });
            this.emit('DEVICE_DELETED', { device: id, path: `/machine/peripheral/${id}` });
          }, 20);
        }
        return { ret: {} };
      }
      case 'block_set_io_throttle': {
        const dev = [...this.devices].find(([id]) => a.id === `/machine/peripheral/${id}/virtio-backend`);
        if (!dev) return err(`Device '${String(a.id)}' not found`, 'DeviceNotFound');
        const { iops_rd, iops_wr, bps_rd, bps_wr } = a;
        (this.nodes.get(dev[1].drive) as Node & { th?: Args }).th = { iops_rd, iops_wr, bps_rd, bps_wr };
        return { ret: {} };
      }
      case 'block_resize': this.nodes.get(String(a['node-name']))!.size = Number(a.size); return { ret: {} };
      case 'snapshot-save':
        this.runJob('snapshot-save', a, () => {
          if (!(a.devices as string[]).includes(String(a.vmstate))) return `vmstate block device '${String(a.vmstate)}' does not exist`;
          if (this.snapNodes(a).some((n) => n.snaps.some((s) => s.name === a.tag))) return `Snapshot '${String(a.tag)}' already exists in one or more devices`;
          for (const n of (a.devices as string[])) this.nodes.get(n)!.snaps.push({ name: String(a.tag), vm: n === a.vmstate ? 4096 : 0 });
          return undefined;
        });
        return { ret: {} };
      case 'snapshot-load':
        this.runJob('snapshot-load', a, () => (this.snapNodes(a).every((n) => n.snaps.some((s) => s.name === a.tag)) ? undefined : `Snapshot '${String(a.tag)}' does not exist in one or more devices`));
        return { ret: {} };
      case 'snapshot-delete':
        this.runJob('snapshot-delete', a, () => {
          for (const n of this.snapNodes(a)) n.snaps = n.snaps.filter((s) => s.name !== a.tag);
          return undefined;
        });
        return { ret: {} };
      default: return err(`The command ${cmd} has not been found`, 'CommandNotFound');
    }
  }

  /** Send this fake's events to a QMP connection served elsewhere (a fake QEMU process). */
  addClient(sock: Socket): void {
    this.socks.add(sock);
    sock.on('close', () => this.socks.delete(sock));
  }

  /** Serve QMP on a fresh temp socket; returns its path and a stop function. */
  async listen(): Promise<{ path: string; stop: () => void }> {
    const dir = mkdtempSync(join(tmpdir(), 'qb-fake-'));
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
