import { spawnArgv } from '../../../host/spawn.js';
import { existsSync } from 'node:fs';
import type { ExecOptions, ExecResult, HostExec } from '../../../host/exec.js';
import { HostCommandError } from '../../../lib/errors.js';

/**
 * A stand-in QEMU for unit tests, run as `node -e FAKE -- -pidfile P -qmp Q -serial S [-S] MODE`:
 * it serves QMP (greeting, capabilities, query-status, stop, cont, system_powerdown, quit) on Q,
 * a serial socket on S (the "guest" prints BOOT-START when its CPUs first run, dropped when no
 * client is attached, like QEMU) and writes its pid to P. MODE "acpi" powers off on
 * system_powerdown; "deaf" ignores it.
 */
const FAKE = String.raw`
const net = require('node:net'); const fs = require('node:fs');
const a = process.argv.slice(process.argv.indexOf('--') + 1);
const pidfile = a[a.indexOf('-pidfile') + 1], qmp = a[a.indexOf('-qmp') + 1], mode = a[a.length - 1];
let running = false, serialClient;
let booted = false;
const boot = () => { running = true; if (!booted && serialClient) serialClient.write('BOOT-START\n'); booted = true; };
net.createServer((c) => { serialClient = c; c.on('error', () => {}); }).listen(a[a.indexOf('-serial') + 1], () => {
  // Without -S the CPUs run from the start (as in QEMU); the boot line follows a moment later.
  if (!a.includes('-S')) { running = true; setTimeout(() => { if (running) boot(); }, 10); }
const srv = net.createServer((s) => {
  const send = (o) => s.write(JSON.stringify(o) + '\r\n');
  const ev = (event) => send({ event, timestamp: { seconds: 0, microseconds: 0 } });
  send({ QMP: { version: { qemu: { major: 7, minor: 2, micro: 0 }, package: 'fake' }, capabilities: [] } });
  let buf = '';
  s.on('error', () => {});
  s.on('data', (d) => {
    buf += d; let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const m = JSON.parse(buf.slice(0, i)); buf = buf.slice(i + 1);
      const ok = (r) => send({ return: r === undefined ? {} : r, id: m.id });
      switch (m.execute) {
        case 'qmp_capabilities': ok(); break;
        case 'query-status': ok({ status: running ? 'running' : 'paused', running }); break;
        case 'stop': running = false; ok(); ev('STOP'); break;
        case 'cont': boot(); ok(); ev('RESUME'); break;
        case 'query-chardev': ok([{ label: 'serial0', filename: (serialClient ? '' : 'disconnected:') + 'unix:S,server=on', 'frontend-open': true }]); break;
        case 'system_powerdown': ok(); ev('POWERDOWN'); if (mode === 'acpi') setTimeout(() => { ev('SHUTDOWN'); process.exit(0); }, 50); break;
        case 'quit': ok(); setTimeout(() => process.exit(0), 10); break;
        default: send({ error: { class: 'CommandNotFound', desc: 'The command ' + m.execute + ' has not been found' }, id: m.id });
      }
    }
  });
});
  srv.listen(qmp, () => fs.writeFileSync(pidfile, process.pid + '\n'));
});
`;

/** The binary name that FakeQemuExec turns into a fake QEMU process. */
export const FAKE_QEMU_BINARY = 'fake-qemu-system-x86_64';

/** A HostExec for tests: runs FAKE_QEMU_BINARY as a detached fake QEMU, answers `id -u/-g`, records argv. */
export class FakeQemuExec implements HostExec {
  readonly calls: string[][] = [];
  readonly pids: number[] = [];
  /** "acpi": the guest powers off on system_powerdown; "deaf": it ignores it. */
  constructor(public mode: 'acpi' | 'deaf' = 'acpi', public failStart = false) {}

  async run(argv: string[], _opts: ExecOptions = {}): Promise<ExecResult> {
    this.calls.push(argv);
    if (argv[0] === 'id') return { stdout: `${argv[1] === '-u' ? process.getuid?.() : process.getgid?.()}\n`, stderr: '', code: 0 };
    if (argv[0] !== FAKE_QEMU_BINARY) throw new HostCommandError(argv, 127, `unexpected command ${argv[0]}`);
    if (this.failStart) throw new HostCommandError(argv, 1, 'qemu-system-x86_64: -blockdev ...: Could not open');
    const pidfile = argv[argv.indexOf('-pidfile') + 1]!;
    const qmp = /^unix:([^,]+)/.exec(argv[argv.indexOf('-qmp') + 1]!)![1]!;
    const serial = /path=([^,]+)/.exec(argv.find((a) => a.startsWith('socket,id=serial0,'))!)![1]!;
    const args = ['-pidfile', pidfile, '-qmp', qmp, '-serial', serial, ...(argv.includes('-S') ? ['-S'] : []), this.mode];
    const child = spawnArgv([process.execPath, '-e', FAKE, '--', ...args], { detached: true, stdio: 'ignore' });
    child.unref();
    this.pids.push(child.pid!);
    // Like -daemonize: return once the pidfile is written and QMP listens.
    for (let i = 0; i < 200 && !existsSync(pidfile); i++) await new Promise((r) => setTimeout(r, 25));
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
