import { isIP } from 'node:net';
import { invalid } from '../lib/errors.js';
import { checkUserData, mergeUserData } from './seed-user-data.js';

/** One NIC of the seed: matched by MAC in the guest. `address` is a CIDR, or '' for DHCP. */
export interface SeedNic {
  mac: string;
  address: string;
  gateway?: string;
  dns: string[];
}

/** What a guest learns on its first boot: identity, SSH keys, static network. */
export interface SeedSpec {
  instanceId: string;
  hostname: string;
  sshKeys: string[];
  nics: SeedNic[];
  /** Root's console password (plain text; SSH stays key-only). */
  password?: string;
  /** The customer's user-data (cloud-config, script, MIME...), joined with nimbo's cloud-config. */
  userData?: string;
  /** The customer's vendor-data, as the seed's `vendor-data` file. */
  vendorData?: string;
  /** Root's password as a SHA-512 crypt hash (`$6$...`): what password_reset keeps; wins over `password`. */
  passwordHash?: string;
}

/** A SHA-512 crypt hash: `$6$`, an optional rounds= part, a salt, the 86-character hash. */
export const SHA512_CRYPT = /^\$6\$(rounds=\d{4,9}\$)?[./0-9A-Za-z]{1,16}\$[./0-9A-Za-z]{86}$/;

const HOST_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
const INSTANCE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Throws InvalidArgument unless `name` is an RFC 1123 host name (dots allowed). */
export function checkHostname(name: string): void {
  if (name.length === 0 || name.length > 253 || !name.split('.').every((l) => HOST_LABEL.test(l))) {
    throw invalid(`invalid hostname ${JSON.stringify(name)}: use letters, digits and '-' (RFC 1123)`);
  }
}

/** Parses `ip/prefix`; throws InvalidArgument on anything else. */
export function parseCidr(cidr: string): { ip: string; prefix: number; family: 4 | 6 } {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(cidr);
  const family = m ? isIP(m[1]!) : 0;
  const prefix = m ? Number(m[2]) : -1;
  if (!m || family === 0 || prefix > (family === 4 ? 32 : 128)) {
    throw invalid(`invalid address ${JSON.stringify(cidr)}: expected CIDR like 10.1.2.3/24`);
  }
  return { ip: m[1]!, prefix, family: family as 4 | 6 };
}

function checkIp(what: string, ip: string): void {
  if (isIP(ip) === 0) throw invalid(`invalid ${what} ${JSON.stringify(ip)}: not an IP address`);
}

function checkText(what: string, s: string): void {
  if (CONTROL.test(s)) throw invalid(`invalid ${what}: control characters or newlines are not allowed`);
}

/** Validates a seed spec and returns it normalized (trimmed keys, lower-case MACs). */
export function normalizeSeed(spec: SeedSpec): SeedSpec {
  if (!INSTANCE_ID.test(spec.instanceId)) throw invalid(`invalid instance id ${JSON.stringify(spec.instanceId)}`);
  checkHostname(spec.hostname);
  const sshKeys = spec.sshKeys.map((k) => k.trim()).filter((k) => k !== '');
  sshKeys.forEach((k) => checkText('ssh key', k));
  if (spec.password !== undefined) {
    checkText('password', spec.password);
    if (spec.password === '') throw invalid('invalid password: empty');
  }
  if (spec.userData !== undefined) checkUserData('user-data', spec.userData);
  if (spec.vendorData !== undefined) checkUserData('vendor-data', spec.vendorData);
  if (spec.passwordHash !== undefined && !SHA512_CRYPT.test(spec.passwordHash)) throw invalid('invalid password hash: expected a SHA-512 crypt hash ($6$...)');
  const macs = new Set<string>();
  const nics = spec.nics.map((n) => {
    const mac = n.mac.toLowerCase();
    if (!MAC.test(mac)) throw invalid(`invalid MAC address ${JSON.stringify(n.mac)}`);
    if (macs.has(mac)) throw invalid(`duplicate MAC address ${mac}`);
    macs.add(mac);
    if (n.address !== '') parseCidr(n.address);
    if (n.gateway !== undefined) checkIp('gateway', n.gateway);
    n.dns.forEach((d) => checkIp('DNS server', d));
    return { mac, address: n.address, gateway: n.gateway, dns: [...n.dns] };
  });
  return { ...spec, sshKeys, nics };
}

const q = (s: string): string => JSON.stringify(s); // a JSON string is a valid YAML double-quoted scalar

/** NoCloud meta-data: instance id and host name. */
export function metaData(s: Pick<SeedSpec, 'instanceId' | 'hostname'>): string {
  return `instance-id: ${q(s.instanceId)}\nlocal-hostname: ${q(s.hostname.split('.')[0]!)}\n`;
}

/** nimbo's own cloud-config: host name, SSH keys (root too), optional console password. */
export function nimboCloudConfig(s: Pick<SeedSpec, 'hostname' | 'sshKeys' | 'password' | 'passwordHash'>): string {
  const out = ['#cloud-config', `hostname: ${q(s.hostname.split('.')[0]!)}`];
  if (s.hostname.includes('.')) out.push(`fqdn: ${q(s.hostname)}`);
  out.push('preserve_hostname: false', 'manage_etc_hosts: true');
  // disable_root: false makes cloud-init put the keys into root's authorized_keys too (cc_ssh).
  out.push('disable_root: false', 'ssh_pwauth: false');
  out.push(s.sshKeys.length ? 'ssh_authorized_keys:' : 'ssh_authorized_keys: []');
  for (const k of s.sshKeys) out.push(`  - ${q(k)}`);
  if (s.passwordHash !== undefined) {
    out.push('chpasswd:', '  expire: false', '  users:', '    - name: "root"', `      password: ${q(s.passwordHash)}`, '      type: "hash"');
  } else if (s.password !== undefined) {
    out.push('chpasswd:', '  expire: false', '  users:', '    - name: "root"', `      password: ${q(s.password)}`, '      type: "text"');
  }
  return out.join('\n') + '\n';
}

function networkConfig(s: SeedSpec): string {
  const out = ['version: 2', s.nics.length ? 'ethernets:' : 'ethernets: {}'];
  s.nics.forEach((n, i) => {
    out.push(`  eth${i}:`, '    match:', `      macaddress: ${q(n.mac)}`, `    set-name: "eth${i}"`);
    if (n.address === '') {
      out.push('    dhcp4: true');
    } else {
      out.push('    addresses:', `      - ${q(n.address)}`);
      if (n.gateway) {
        const to = isIP(n.gateway) === 6 ? '::/0' : '0.0.0.0/0';
        out.push('    routes:', `      - to: ${q(to)}`, `        via: ${q(n.gateway)}`);
      }
    }
    if (n.dns.length) out.push('    nameservers:', '      addresses:', ...n.dns.map((d) => `        - ${q(d)}`));
  });
  return out.join('\n') + '\n';
}

/** The shell-free `key=value` file the images read per NIC (`dns` repeats; no address = DHCP). */
function nimboNet(n: SeedNic): string {
  const lines = [`mac=${n.mac}`];
  if (n.address === '') lines.push('mode=dhcp');
  else lines.push('mode=static', `address=${n.address}`);
  if (n.gateway) lines.push(`gateway=${n.gateway}`);
  for (const d of n.dns) lines.push(`dns=${d}`);
  return lines.join('\n') + '\n';
}

/**
 * Renders a NoCloud seed (meta-data, user-data, network-config v2) plus plain files under
 * `nimbo/` that the built-in images read with busybox only. Pure; throws InvalidArgument.
 */
export function renderSeed(spec: SeedSpec): Record<string, string> {
  const s = normalizeSeed(spec);
  const files: Record<string, string> = {
    'meta-data': metaData(s),
    'user-data': mergeUserData(nimboCloudConfig(s), s.userData),
    ...(s.vendorData !== undefined ? { 'vendor-data': s.vendorData } : {}),
    'network-config': networkConfig(s),
    'nimbo/instance-id': `${s.instanceId}\n`,
    'nimbo/hostname': `${s.hostname}\n`,
    'nimbo/authorized_keys': s.sshKeys.map((k) => `${k}\n`).join(''),
  };
  if (s.passwordHash !== undefined) files['nimbo/password-hash'] = `${s.passwordHash}\n`;
  else if (s.password !== undefined) files['nimbo/password'] = `${s.password}\n`;
  s.nics.forEach((n, i) => (files[`nimbo/net-eth${i}`] = nimboNet(n)));
  return files;
}
