// What an application container gets instead of a seed (it has no init to read one): /etc files
// bind-mounted read-only, and its addresses and default route set by nimbo in its namespace.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NetnsSetup } from '../../network/types.js';
import type { ContainerNic } from './ports.js';
import type { BindMount } from './oci-config.js';

/** What an application container needs to know of a network its NICs are on. */
export interface AppNetwork {
  name: string;
  gateway: string;
  mode: string;
}

/** The text of /etc/hostname, /etc/hosts and /etc/resolv.conf of application container `name`. Pure. */
export function appEtcTexts(name: string, nics: ContainerNic[], nets: Map<string, AppNetwork>): Record<string, string> {
  const first = nets.get(nics[0]!.network)!;
  return {
    hostname: `${name}\n`,
    hosts: `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n${nics.map((n) => `${n.address.split('/')[0]}\t${name}.${n.network} ${name}`).join('\n')}\n`,
    'resolv.conf': `nameserver ${first.gateway}\nsearch ${[...new Set(nics.map((n) => n.network))].join(' ')}\n`,
  };
}

/** Write those files under instanceDir/etc; returns their read-only bind mounts. */
export function writeAppEtc(instanceDir: string, name: string, nics: ContainerNic[], nets: Map<string, AppNetwork>): BindMount[] {
  const dir = join(instanceDir, 'etc');
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  return Object.entries(appEtcTexts(name, nics, nets)).map(([f, text]) => {
    writeFileSync(join(dir, f), text, { mode: 0o644 });
    return { source: join(dir, f), destination: `/etc/${f}`, readonly: true };
  });
}

/** Addresses and default route of an application container (none on an isolated network). Pure. */
export function appNetnsSetup(nics: ContainerNic[], nets: Map<string, AppNetwork>): NetnsSetup {
  const first = nics[0];
  const net = first ? nets.get(first.network) : undefined;
  return {
    addresses: nics.map((n) => ({ dev: n.name, cidr: n.address })),
    ...(first && net && net.mode !== 'isolated' ? { defaultRoute: { via: net.gateway, dev: first.name } } : {}),
  };
}
