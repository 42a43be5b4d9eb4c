import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RealExec } from '../../../host/exec.js';
import { renderDnsmasqConf } from './dnsmasq-config.js';
import type { NetworkSpec } from '../types.js';

// dnsmasq itself checks the syntax of every config variant we render (`dnsmasq --test`; nothing starts).

const skip = existsSync('/usr/sbin/dnsmasq') ? false : 'dnsmasq is not installed';

test('dnsmasq --test accepts every rendered variant (IPv4/IPv6, nat/routed/isolated, overlay)', { skip }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'nimbo-dnsmasq-'));
  try {
    const base: NetworkSpec = {
      name: 'default',
      bridge: 'nimbobr0',
      subnet: '10.77.0.0/24',
      gateway: '10.77.0.1',
      mode: 'nat',
      domain: 'nimbo',
      stateDir: dir,
      nftTable: 'nimbo',
    };
    const ipv6 = { subnet: 'fd12:3456:789a:1::/64', gateway: 'fd12:3456:789a:1::1' };
    const vxlan = { device: 'nimbovx0', vni: 7, local: '192.168.77.1', port: 4789, peers: ['192.168.77.2'] };
    const exec = new RealExec();
    for (const mode of ['nat', 'routed', 'isolated'] as const) {
      for (const extra of [{}, { ipv6 }, { vxlan }, { ipv6, vxlan }]) {
        const conf = join(dir, 'dnsmasq.conf');
        await writeFile(conf, renderDnsmasqConf({ ...base, mode, ...extra }));
        const res = await exec.run(['/usr/sbin/dnsmasq', '--test', `--conf-file=${conf}`], { allowFailure: true });
        assert.equal(res.code, 0, `${mode} ${Object.keys(extra).join('+')}: ${res.stderr}`);
        assert.match(res.stderr + res.stdout, /syntax check OK/);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
