import type { ExecOptions, ExecResult, HostExec } from './exec.js';
import { RealExec } from './exec.js';

const NETNS = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/**
 * Runs every command inside network namespace `ns` (`ip netns exec NS argv...`), e.g. to run a network
 * driver as if on another host in tests. Daemons started this way (dnsmasq) stay in the namespace;
 * pids, files and signals are shared with the caller (no pid or mount namespace).
 */
export class NetnsExec implements HostExec {
  constructor(
    readonly ns: string,
    private readonly inner: HostExec = new RealExec(),
  ) {
    if (typeof ns !== 'string' || !NETNS.test(ns)) throw new Error(`invalid network namespace name "${ns}"`);
  }

  run(argv: string[], opts?: ExecOptions): Promise<ExecResult> {
    return this.inner.run(['ip', 'netns', 'exec', this.ns, ...argv], opts);
  }
}
