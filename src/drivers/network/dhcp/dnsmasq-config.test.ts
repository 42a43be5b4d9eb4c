import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dnsmasqPaths, renderAddnHosts, renderDhcpHosts, renderDnsmasqConf } from './dnsmasq-config.js';
import type { NetworkSpec } from '../types.js';

const spec: NetworkSpec = {
  name: 'default',
  bridge: 'nimbobr0',
  subnet: '10.77.0.0/24',
  gateway: '10.77.0.1',
  nat: true,
  domain: 'nimbo',
  stateDir: '/var/lib/nimbo/networks/default',
  nftTable: 'nimbo',
};

test('dnsmasq.conf golden: NAT network', () => {
  assert.equal(
    renderDnsmasqConf(spec),
    `# nimbo network default: generated, do not edit
# DNS: only on the gateway address of the bridge, never on lo or other interfaces
port=53
interface=nimbobr0
except-interface=lo
listen-address=10.77.0.1
bind-interfaces
no-hosts
domain-needed
bogus-priv
domain=nimbo
local=/nimbo/
expand-hosts
addn-hosts=/var/lib/nimbo/networks/default/addn-hosts
# DHCP: static mode, so only MACs listed in the hosts file get a lease
dhcp-range=10.77.0.0,static,255.255.255.0,12h
dhcp-hostsfile=/var/lib/nimbo/networks/default/dhcp-hosts
dhcp-leasefile=/var/lib/nimbo/networks/default/leases
dhcp-authoritative
dhcp-option=option:router,10.77.0.1
dhcp-option=option:dns-server,10.77.0.1
pid-file=/var/lib/nimbo/networks/default/dnsmasq.pid
`,
  );
});

test('dnsmasq.conf: an isolated network sends no router, a /16 gets its mask', () => {
  const conf = renderDnsmasqConf({ ...spec, nat: false, subnet: '10.80.0.0/16', gateway: '10.80.0.1' });
  assert.match(conf, /^dhcp-option=option:router$/m);
  assert.match(conf, /^dhcp-range=10\.80\.0\.0,static,255\.255\.0\.0,12h$/m);
  assert.match(conf, /^listen-address=10\.80\.0\.1$/m);
});

test('hosts files golden: sorted by address, independent of input order', () => {
  const res = [
    { mac: '52:54:00:00:00:0b', ip: '10.77.0.11', hostname: 'web' },
    { mac: '52:54:00:00:00:0a', ip: '10.77.0.9', hostname: 'db' },
  ];
  assert.equal(renderDhcpHosts(res), '# nimbo: static DHCP leases (mac,ip,hostname)\n52:54:00:00:00:0a,10.77.0.9,db\n52:54:00:00:00:0b,10.77.0.11,web\n');
  assert.equal(renderAddnHosts(res, 'nimbo'), '# nimbo: guest names\n10.77.0.9 db.nimbo db\n10.77.0.11 web.nimbo web\n');
  assert.equal(renderDhcpHosts([...res].reverse()), renderDhcpHosts(res));
  assert.equal(renderDhcpHosts([]), '# nimbo: static DHCP leases (mac,ip,hostname)\n');
});

test('dnsmasqPaths', () => {
  assert.deepEqual(dnsmasqPaths('/s'), {
    conf: '/s/dnsmasq.conf',
    dhcpHosts: '/s/dhcp-hosts',
    addnHosts: '/s/addn-hosts',
    leases: '/s/leases',
    pid: '/s/dnsmasq.pid',
  });
});
