import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dnsmasqPaths, renderAddnHosts, renderDhcpHosts, renderDnsmasqConf } from './dnsmasq-config.js';
import type { NetworkSpec } from '../types.js';

const spec: NetworkSpec = {
  name: 'default',
  bridge: 'nimbobr0',
  subnet: '10.77.0.0/24',
  gateway: '10.77.0.1',
  mode: 'nat',
  domain: 'nimbo',
  stateDir: '/var/lib/nimbo/networks/default',
  nftTable: 'nimbo',
};

test('dnsmasq.conf golden: NAT network', () => {
  assert.equal(
    renderDnsmasqConf(spec),
    `# nimbo network default: generated, do not edit
# DNS: only on the gateway address(es) of the bridge, never on lo or other interfaces
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
  const conf = renderDnsmasqConf({ ...spec, mode: 'isolated', subnet: '10.80.0.0/16', gateway: '10.80.0.1' });
  assert.match(conf, /^dhcp-option=option:router$/m);
  assert.match(conf, /^dhcp-range=10\.80\.0\.0,static,255\.255\.0\.0,12h$/m);
  assert.match(conf, /^listen-address=10\.80\.0\.1$/m);
});

test('dnsmasq.conf: a routed network sends the gateway as router', () => {
  assert.match(renderDnsmasqConf({ ...spec, mode: 'routed' }), /^dhcp-option=option:router,10\.77\.0\.1$/m);
});

const v6: NetworkSpec = { ...spec, ipv6: { subnet: 'fd12:3456:789a:1::/64', gateway: 'fd12:3456:789a:1::1' } };

test('dnsmasq.conf golden: NAT network with IPv6 (RA + stateless DHCPv6, DNS on the gateway)', () => {
  assert.equal(
    renderDnsmasqConf(v6),
    `# nimbo network default: generated, do not edit
# DNS: only on the gateway address(es) of the bridge, never on lo or other interfaces
port=53
interface=nimbobr0
except-interface=lo
listen-address=10.77.0.1
listen-address=fd12:3456:789a:1::1
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
# IPv6: router advertisements for SLAAC; stateless DHCPv6 only for DNS (addresses come from SLAAC)
enable-ra
dhcp-range=fd12:3456:789a:1::,ra-stateless,64,12h
dhcp-option=option6:dns-server,[fd12:3456:789a:1::1]
pid-file=/var/lib/nimbo/networks/default/dnsmasq.pid
`,
  );
});

test('dnsmasq.conf: isolated IPv6 network advertises no default route; overlay networks get MTU 1450', () => {
  const iso = renderDnsmasqConf({ ...v6, mode: 'isolated' });
  assert.match(iso, /^ra-param=nimbobr0,0,0$/m);
  assert.match(iso, /^dhcp-option=option:router$/m);
  const vxlan = { device: 'nimbovx0', vni: 7, local: '192.168.77.1', port: 4789, peers: [] };
  const overlay = renderDnsmasqConf({ ...v6, vxlan });
  assert.match(overlay, /^dhcp-option=option:mtu,1450$/m);
  assert.match(overlay, /^ra-param=nimbobr0,mtu:1450,0$/m);
  assert.match(renderDnsmasqConf({ ...v6, mode: 'isolated', vxlan }), /^ra-param=nimbobr0,mtu:1450,0,0$/m);
  assert.match(renderDnsmasqConf({ ...spec, vxlan }), /^dhcp-option=option:mtu,1450$/m);
  assert.doesNotMatch(renderDnsmasqConf({ ...spec, vxlan }), /ra-param|enable-ra/);
  assert.doesNotMatch(renderDnsmasqConf(v6), /ra-param|option:mtu/);
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

test('addn-hosts golden with IPv6: AAAA lines after the A lines, sorted by address', () => {
  const res = [
    { mac: '52:54:00:00:00:0b', ip: '10.77.0.11', hostname: 'web', ipv6: 'fd12:3456:789a:1:5054:ff:fe00:b' },
    { mac: '52:54:00:00:00:0a', ip: '10.77.0.9', hostname: 'db', ipv6: 'fd12:3456:789a:1:5054:ff:fe00:a' },
    { mac: '52:54:00:00:00:0c', ip: '10.77.0.12', hostname: 'v4only' },
  ];
  assert.equal(
    renderAddnHosts(res, 'nimbo'),
    `# nimbo: guest names
10.77.0.9 db.nimbo db
10.77.0.11 web.nimbo web
10.77.0.12 v4only.nimbo v4only
fd12:3456:789a:1:5054:ff:fe00:a db.nimbo db
fd12:3456:789a:1:5054:ff:fe00:b web.nimbo web
`,
  );
  assert.equal(renderDhcpHosts(res), '# nimbo: static DHCP leases (mac,ip,hostname)\n52:54:00:00:00:0a,10.77.0.9,db\n52:54:00:00:00:0b,10.77.0.11,web\n52:54:00:00:00:0c,10.77.0.12,v4only\n');
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
