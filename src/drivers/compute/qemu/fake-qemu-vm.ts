import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { ExecOptions, ExecResult, HostExec } from '../../../host/exec.js';
import { spawnArgv } from '../../../host/spawn.js';
import { HostCommandError } from '../../../lib/errors.js';
import { FakeBlockQemu } from './fake-qmp-block.js';
import { FakeNicQemu } from './fake-qmp-nic.js';

/*
 * A stand-in QEMU process for unit tests of the instance driver: a real detached process (so pidfile,
 * /proc checks and SIGKILL behave as with QEMU) serving QMP with lifecycle commands plus the block and
 * NIC fakes (hot-plug, throttles, snapshot jobs), and a serial socket. Everything it is asked, and
 * when a console attaches, is appended to a journal file shared with the test, so the order of host
 * calls, QMP commands and console attach can be checked. Signals stand for guest behaviour:
 * SIGUSR1 = the guest powers off (SHUTDOWN guest:true, exit), SIGUSR2 = QEMU pauses by itself (STOP),
 * SIGTERM = QEMU's own handling (SHUTDOWN guest:false, exit).
 */

/** What FakeVmExec hands the fake process. */
interface FakeVmSpec {
  qmp: string;
  serial: string;
  paused: boolean;
  mode: 'acpi' | 'deaf';
  journal: string;
  disks: { id: string; format: string; path: string; ro: boolean }[];
  nics: { id: string; tap: string; mac: string }[];
}

/** The binary name FakeVmExec turns into a fake QEMU process. */
export const FAKE_VM_BINARY = 'fake-vm-qemu-system-x86_64';

/** Append one line to a journal file (the test's and the fake process's share one). */
export function journal(file: string, line: string): void {
  appendFileSync(file, `${line}\n`);
}

/**
 * A HostExec for tests: FAKE_VM_BINARY starts a fake QEMU process; chown, chmod, qemu-img and genisoimage
 * succeed (genisoimage writes its output file); `id` answers the test's own ids. Every call is journalled.
 */
export class FakeVmExec implements HostExec {
  readonly calls: string[][] = [];
  readonly pids: number[] = [];
  /** argv[0]s that fail (HostCommandError). */
  readonly failing = new Set<string>();

  constructor(readonly journalFile: string, public mode: 'acpi' | 'deaf' = 'acpi') {}

  async run(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    this.calls.push(argv);
    journal(this.journalFile, `exec ${argv.join(' ')}`);
    const ok = { stdout: '', stderr: '', code: 0 };
    if (this.failing.has(argv[0]!)) {
      if (opts.allowFailure) return { ...ok, code: 1 };
      throw new HostCommandError(argv, 1, `${argv[0]} failed (test)`);
    }
    switch (argv[0]) {
      case 'id': return { ...ok, stdout: `${argv[1] === '-u' ? process.getuid?.() : process.getgid?.()}\n` };
      case 'chown': case 'chmod': case 'qemu-img': return ok;
      case 'genisoimage': writeFileSync(argv[argv.indexOf('-output') + 1]!, 'iso'); return ok;
      case FAKE_VM_BINARY: return this.start(argv);
      default: throw new HostCommandError(argv, 127, `unexpected command ${argv[0]}`);
    }
  }

  private async start(argv: string[]): Promise<ExecResult> {
    const arg = (flag: string) => argv[argv.indexOf(flag) + 1]!;
    const pidfile = arg('-pidfile');
    const values = (flag: string) => argv.flatMap((a, i) => (a === flag ? [argv[i + 1]!] : []));
    const blockdevs = values('-blockdev').map((j) => JSON.parse(j) as Record<string, unknown>);
    const spec: FakeVmSpec = {
      qmp: /^unix:([^,]+)/.exec(arg('-qmp'))![1]!,
      serial: /path=([^,]+)/.exec(argv.find((a) => a.startsWith('socket,id=serial0,'))!)![1]!,
      paused: argv.includes('-S'),
      mode: this.mode,
      journal: this.journalFile,
      disks: blockdevs.filter((b) => b.driver !== 'file').map((b) => {
        const file = blockdevs.find((f) => f['node-name'] === b.file)!;
        return { id: String(b['node-name']).slice(2), format: String(b.driver), path: String(file.filename), ro: b['read-only'] === true };
      }),
      nics: values('-device').filter((d) => d.startsWith('virtio-net-pci,')).map((d) => {
        const kv = Object.fromEntries(d.split(',').slice(1).map((p) => p.split('=') as [string, string]));
        return { id: kv.id!.slice(4), tap: /ifname=([^,]+)/.exec(values('-netdev').find((n) => n.includes(`id=${kv.netdev!},`))!)![1]!, mac: kv.mac! };
      }),
    };
    const child = spawnArgv([process.execPath, fileURLToPath(import.meta.url), '-pidfile', pidfile, JSON.stringify(spec)], { detached: true, stdio: 'ignore' });
    child.unref();
    this.pids.push(child.pid!);
    // Like -daemonize: return once the pidfile is written and QMP listens.
    for (let i = 0; i < 400 && !existsSync(pidfile); i++) await new Promise((r) => setTimeout(r, 25));
    return { stdout: '', stderr: '', code: 0 };
  }

  /** Kill every fake QEMU still alive (test cleanup). */
  killAll(): void {
    for (const pid of this.pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
}

const BLOCK_CMDS = new Set(['query-block', 'query-named-block-nodes', 'query-jobs', 'job-dismiss', 'blockdev-add', 'blockdev-del', 'block_set_io_throttle', 'block_resize', 'snapshot-save', 'snapshot-load', 'snapshot-delete']);
const NIC_CMDS = new Set(['qom-list', 'qom-get', 'netdev_add', 'netdev_del', 'query-pci']);

/** The fake QEMU process itself. */
function runFakeVm(pidfile: string, spec: FakeVmSpec): void {
  const block = new FakeBlockQemu();
  const nics = new FakeNicQemu();
  for (const d of spec.disks) block.coldDisk(d.id, d.format, d.path, 256 << 20, d.ro);
  spec.nics.forEach((n, i) => nics.coldNic(n.id, n.tap, n.mac, i));
  const log = (line: string) => journal(spec.journal, line);
  let running = !spec.paused;
  let qmpClient: Socket | undefined;
  const ev = (event: string, data?: Record<string, unknown>) => qmpClient?.write(JSON.stringify({ event, ...(data ? { data } : {}), timestamp: { seconds: 0, microseconds: 0 } }) + '\r\n');
  const exit = (guest: boolean, reason: string) => {
    ev('SHUTDOWN', { guest, reason });
    setTimeout(() => process.exit(0), 20);
  };
  process.on('SIGUSR1', () => exit(true, 'guest-shutdown'));
  process.on('SIGUSR2', () => {
    running = false;
    ev('STOP');
  });
  process.on('SIGTERM', () => exit(false, 'host-signal'));
  let serialClient: Socket | undefined;
  createServer((c) => {
    serialClient = c;
    log('serial connected');
    c.on('error', () => {});
  }).listen(spec.serial);
  const handle = (cmd: string, a: Record<string, unknown> = {}): { ret?: unknown; error?: { class: string; desc: string } } => {
    switch (cmd) {
      case 'qmp_capabilities': return { ret: {} };
      case 'query-status': return { ret: { status: running ? 'running' : 'paused', running } };
      case 'query-blockstats': return { ret: [{ qdev: 'disk-root', stats: { rd_bytes: 4096, wr_bytes: 512, rd_operations: 2, wr_operations: 1 } }, { qdev: 'cd0', stats: { rd_bytes: 100, wr_bytes: 0, rd_operations: 1, wr_operations: 0 } }] };
      case 'stop': running = false; ev('STOP'); return { ret: {} };
      case 'cont': running = true; ev('RESUME'); return { ret: {} };
      case 'query-chardev': return { ret: [{ label: 'serial0', filename: `${serialClient ? '' : 'disconnected:'}unix:${spec.serial},server=on`, 'frontend-open': true }] };
      case 'system_powerdown':
        ev('POWERDOWN');
        if (spec.mode === 'acpi') setTimeout(() => exit(true, 'guest-shutdown'), 50);
        return { ret: {} };
      case 'quit': exit(false, 'host-qmp-quit'); return { ret: {} };
      case 'netdev_add': nics.taps.add(String(a.ifname)); return nics.handle(cmd, a);
      case 'device_add': {
        if (a.driver !== 'virtio-blk-pci') return nics.handle(cmd, a);
        const r = block.handle(cmd, a);
        if (!r.error) nics.hotDisk(String(a.id).slice('disk-'.length), String(a.bus)); // disks and NICs share the ports
        return r;
      }
      case 'device_del': {
        const id = String(a.id);
        if (!id.startsWith('disk-')) return nics.handle(cmd, a);
        const r = block.handle(cmd, a);
        if (!r.error) setTimeout(() => nics.devices.delete(id), 20);
        return r;
      }
      default:
        if (BLOCK_CMDS.has(cmd)) return block.handle(cmd, a);
        if (NIC_CMDS.has(cmd)) return nics.handle(cmd, a);
        return { error: { class: 'CommandNotFound', desc: `The command ${cmd} has not been found` } };
    }
  };
  const srv = createServer((s) => {
    log('qmp connect');
    block.addClient(s);
    nics.addClient(s);
    s.on('error', () => {});
    s.write(JSON.stringify({ QMP: { version: { qemu: { major: 7, minor: 2, micro: 0 }, package: 'fake' }, capabilities: [] } }) + '\r\n');
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const m = JSON.parse(buf.slice(0, nl)) as { execute: string; id?: string; arguments?: Record<string, unknown> };
        buf = buf.slice(nl + 1);
        if (m.execute !== 'qmp_capabilities') log(`qmp ${m.execute}`);
        else qmpClient = s; // QEMU sends no events before the capabilities handshake
        const r = handle(m.execute, m.arguments);
        s.write(JSON.stringify(r.error ? { error: r.error, id: m.id } : { return: r.ret ?? {}, id: m.id }) + '\r\n');
      }
    });
  });
  srv.listen(spec.qmp, () => writeFileSync(pidfile, `${process.pid}\n`));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const a = process.argv.slice(2);
  runFakeVm(a[a.indexOf('-pidfile') + 1]!, JSON.parse(a[a.length - 1]!) as FakeVmSpec);
}
