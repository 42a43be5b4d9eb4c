import type { Command } from 'commander';
import { DEFAULTS, parseListen, validatePrefix } from '../core/config.js';
import { validateCidr } from '../core/ip.js';
import { runUp, runDown } from './up.js';

/** Registers `nimbo daemon`, `nimbo up` and `nimbo down`. */
export function registerLifecycle(program: Command): void {
  program
    .command('daemon')
    .description('run nimbod in the foreground')
    .option('--state-dir <dir>', 'state directory', process.env.NIMBO_STATE_DIR ?? DEFAULTS.stateDir)
    .option('--listen <host:port>', 'API address', DEFAULTS.listen)
    .option('--prefix <prefix>', 'prefix of host objects (bridge, taps, nft table)', DEFAULTS.prefix)
    .option('--subnet <cidr>', "default network's IPv4 subnet", DEFAULTS.subnet)
    .option('--qemu-user <user>', 'user QEMU runs as for VMs made before per-VM uids (each VM now gets its own)', DEFAULTS.qemuUser)
    .option('--accel <kvm|tcg>', 'force an accelerator instead of probing')
    .option('--container-runtime <path>', 'OCI runtime for containers (runc; crun on cgroup-v2 hosts)', 'runc')
    .action(async (o: { stateDir: string; listen: string; prefix: string; subnet: string; qemuUser: string; accel?: string; containerRuntime: string }) => {
      const { startDaemon } = await import('../daemon/daemon.js');
      if (o.accel && o.accel !== 'kvm' && o.accel !== 'tcg') throw new Error('--accel must be kvm or tcg');
      const { host, port } = parseListen(o.listen);
      const daemon = await startDaemon({
        stateDir: o.stateDir,
        host,
        port,
        prefix: validatePrefix(o.prefix),
        subnet: validateCidr(o.subnet),
        qemuUser: o.qemuUser,
        accel: o.accel as 'kvm' | 'tcg' | undefined,
        containerRuntime: o.containerRuntime,
      });
      const stop = async () => {
        await daemon.close();
        process.exit(0);
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });

  program
    .command('up')
    .description('bring the platform up: daemon, tiny image, demo VM')
    .option('--state-dir <dir>', 'state directory', process.env.NIMBO_STATE_DIR ?? DEFAULTS.stateDir)
    .option('--listen <host:port>', 'API address', DEFAULTS.listen)
    .option('--no-demo', 'do not launch the demo VM')
    .action((o: { stateDir: string; listen: string; demo: boolean }) => runUp(o));

  program
    .command('down')
    .description('stop the daemon (instances keep running)')
    .option('--state-dir <dir>', 'state directory', process.env.NIMBO_STATE_DIR ?? DEFAULTS.stateDir)
    .action((o: { stateDir: string }) => runDown(o));
}
