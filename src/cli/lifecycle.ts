import { Option, type Command } from 'commander';
// Only the small config module at startup: up.js (host exec, daemon start) and ip.js load inside their actions.
import { DEFAULTS, parseListen, planTls, validatePrefix } from '../core/config.js';
import { invalid } from '../lib/errors.js';
import { parseSize } from '../lib/validate.js';
import { attachExamples } from './examples.js';
import { GUEST_ARCHES, isGuestArch, type GuestArch } from '../shared/arch-types.js';

interface DaemonFlags {
  stateDir: string;
  listen: string;
  tls?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  shutdownTimeout: string;
  prefix: string;
  subnet: string;
  qemuUser: string;
  accel?: string;
  qemuBinary: string[];
  containerRuntime: string;
  auditRetention: string;
  rateLimitCaller: string;
  rateLimitAddress: string;
  webhookAllowInternal?: boolean;
  meterInterval: string;
  uploadMax: string;
  imageServer?: boolean;
}

/** Parses `--qemu-binary ARCH=PATH` flags into emulators by guest architecture. */
export function parseQemuBinaries(flags: string[]): Partial<Record<GuestArch, string>> {
  const out: Partial<Record<GuestArch, string>> = {};
  for (const f of flags) {
    const eq = f.indexOf('=');
    const arch = f.slice(0, eq);
    const path = f.slice(eq + 1);
    if (eq < 0 || !isGuestArch(arch) || !path.startsWith('/')) throw invalid(`--qemu-binary ${JSON.stringify(f)} must be ARCH=/absolute/path with ARCH one of ${GUEST_ARCHES.join(', ')}`);
    out[arch] = path;
  }
  return out;
}

/** Registers `nimbo daemon`, `nimbo up` and `nimbo down`. */
export function registerLifecycle(program: Command): void {
  program
    .command('daemon')
    .description('run nimbod in the foreground')
    .option('--state-dir <dir>', 'state directory', process.env.NIMBO_STATE_DIR ?? DEFAULTS.stateDir)
    .option('--listen <host:port>', 'API address; beyond loopback (127.0.0.0/8, ::1) the API is served over HTTPS only', DEFAULTS.listen)
    .option('--tls-cert <file>', 'PEM certificate (chain) to serve HTTPS with (with --tls-key)')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option('--tls', 'serve HTTPS on loopback too (without --tls-cert/--tls-key: a certificate signed by a CA made in the state dir)')
    .option('--no-tls', 'serve plain HTTP (refused unless --listen is a loopback address)')
    .option('--shutdown-timeout <seconds>', 'on SIGTERM, how long to wait for requests and operations before exiting anyway', String(DEFAULTS.shutdownTimeoutS))
    .option('--prefix <prefix>', 'prefix of host objects (bridge, taps, nft table)', DEFAULTS.prefix)
    .option('--subnet <cidr>', "default network's IPv4 subnet", DEFAULTS.subnet)
    .option('--qemu-user <user>', 'user QEMU runs as for VMs made before per-VM uids (each VM now gets its own)', DEFAULTS.qemuUser)
    .option('--accel <kvm|tcg>', 'force an accelerator instead of probing')
    .option('--qemu-binary <arch=path>', 'emulator of one guest architecture instead of qemu-system-ARCH (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--container-runtime <path>', 'OCI runtime for containers (runc; crun on cgroup-v2 hosts)', 'runc')
    .option('--audit-retention <days>', 'days the audit log keeps entries', '90')
    .option('--rate-limit-caller <burst:per-second>', 'API requests per token, session or user (off: no limit)', '600:100')
    .option('--rate-limit-address <burst:per-second>', 'API requests per source address (off: no limit)', '1200:200')
    .option('--upload-max <size>', 'largest disk image a browser or `nimbo image upload` may send (e.g. 16GiB)', '16GiB')
    .option('--image-server', "serve the public disk images, read-only, to other daemons' image remotes (callers need a token with read access to images; off by default)")
    .option('--webhook-allow-internal', 'let webhooks reach loopback, private and link-local addresses (refused by default: SSRF)')
    .addOption(new Option('--meter-interval <seconds>', 'seconds between metering samples (tests)').default('60').hideHelp())
    .addHelpText(
      'after',
      '\nTLS: on a loopback address the API is plain HTTP unless --tls is given. On any other address (0.0.0.0 and :: included)\n' +
        'it is HTTPS: with --tls-cert/--tls-key, or else with a CA (STATE_DIR/tls/ca.crt) and a server certificate it signs, made\n' +
        'on first start and reused after; the certificate\'s SHA-256 fingerprint is printed at start. Clients pin it with\n' +
        'nimbo remote add NAME URL (or --tls-fingerprint FP), or trust the CA with --tls-ca ca.crt.',
    )
    .action(async (o: DaemonFlags) => {
      if (o.accel && o.accel !== 'kvm' && o.accel !== 'tcg') throw new Error('--accel must be kvm or tcg');
      const { host, port } = parseListen(o.listen);
      // Decided before anything starts: plain HTTP beyond loopback is refused here, with nothing created.
      const tls = planTls(host, { tls: o.tls, cert: o.tlsCert, key: o.tlsKey });
      const shutdownS = Number(o.shutdownTimeout);
      if (!Number.isFinite(shutdownS) || shutdownS <= 0) throw invalid(`--shutdown-timeout ${JSON.stringify(o.shutdownTimeout)} must be a positive number of seconds`);
      const tc = await import('../core/trail-config.js');
      const trail = {
        auditRetentionDays: tc.parseRetentionDays(o.auditRetention),
        rateLimits: {
          ...(o.rateLimitCaller === 'off' ? {} : { perCaller: tc.parseBucket('--rate-limit-caller', o.rateLimitCaller) }),
          ...(o.rateLimitAddress === 'off' ? {} : { perAddress: tc.parseBucket('--rate-limit-address', o.rateLimitAddress) }),
        },
        webhookAllowInternal: o.webhookAllowInternal === true,
        meterIntervalS: Number(o.meterInterval),
      };
      if (!Number.isInteger(trail.meterIntervalS) || trail.meterIntervalS < 1 || trail.meterIntervalS > 3600) throw invalid(`--meter-interval ${JSON.stringify(o.meterInterval)} must be 1-3600 seconds`);
      const { startDaemon } = await import('../daemon/daemon.js');
      const daemon = await startDaemon({
        stateDir: o.stateDir,
        host,
        port,
        prefix: validatePrefix(o.prefix),
        subnet: (await import('../lib/ip.js')).validateCidr(o.subnet),
        qemuUser: o.qemuUser,
        accel: o.accel as 'kvm' | 'tcg' | undefined,
        ...(o.qemuBinary.length ? { qemuBinaries: parseQemuBinaries(o.qemuBinary) } : {}),
        containerRuntime: o.containerRuntime,
        tls,
        shutdownTimeoutMs: shutdownS * 1000,
        uploadMaxBytes: parseSize(o.uploadMax, '--upload-max'),
        ...(o.imageServer ? { imageServer: true } : {}),
        trail,
      });
      if (daemon.fingerprint) process.stderr.write(`nimbod: serving ${daemon.url}; TLS certificate SHA-256 fingerprint ${daemon.fingerprint}\n`);
      let stopping = false;
      const stop = async () => {
        // A second signal, or a drain that somehow outlives its own timeout, ends the process at once.
        if (stopping) process.exit(1);
        stopping = true;
        setTimeout(() => process.exit(1), shutdownS * 1000 + 10_000).unref();
        await daemon.close();
        process.exit(0);
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });

  program
    .command('up')
    .description('bring the platform up: daemon, tiny image, demo VM')
    .option('--state-dir <dir>', 'state directory', process.env.NIMBO_STATE_DIR ?? DEFAULTS.stateDir)
    .option('--listen <host:port>', 'API address', DEFAULTS.listen)
    .option('--no-demo', 'do not launch the demo VM')
    .action(async (o: { stateDir: string; listen: string; demo: boolean }) => (await import('./up.js')).runUp(o));

  program
    .command('down')
    .description('stop the daemon (instances keep running)')
    .option('--state-dir <dir>', 'state directory', process.env.NIMBO_STATE_DIR ?? DEFAULTS.stateDir)
    .action(async (o: { stateDir: string }) => (await import('./up.js')).runDown(o));
  // Registered last: the Examples of every command without its own call (up) go on here.
  attachExamples(program);
}
