import { createHmac, timingSafeEqual } from 'node:crypto';
import { metaData, nimboCloudConfig } from '../../images/seed.js';
import { mergeUserData } from '../../images/seed-user-data.js';

// What the metadata service answers, as a pure function of the request and of the one instance NIC the
// request came from (the server identifies it; nothing the guest sends can name another instance).
// Two layouts, so stock cloud images work with either cloud-init datasource:
//   NoCloud-net (seedfrom=http://169.254.169.254/nocloud/): /nocloud/meta-data, /nocloud/user-data,
//     /nocloud/vendor-data; user-data is nimbo's cloud-config and the customer's user-data in one MIME
//     multipart, exactly as on the seed ISO.
//   EC2 (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-categories.html):
//     /latest/ (and dated versions, which cloud-init asks for) meta-data/ tree, user-data (the customer's
//     own, 404 when none), dynamic/instance-identity/document; IMDSv2 tokens from PUT /latest/api/token.

/** The data of the instance a request came from. */
export interface MetadataView {
  /** The instance UUID (EC2 instance-id and NoCloud instance-id). */
  instanceId: string;
  hostname: string;
  image: string;
  cpus: number;
  memory: number;
  /** The asking NIC's address and MAC. */
  localIpv4: string;
  mac: string;
  sshKeys: string[];
  userData?: string;
  vendorData?: string;
  /** root's password as a SHA-512 crypt hash (a VPS password_reset), set through cloud-init's chpasswd. */
  passwordHash?: string;
}

/** One request as the router needs it. */
export interface MetadataRequest {
  method: string;
  /** The path, without query. */
  path: string;
  /** Lower-case header names. */
  headers: Record<string, string | undefined>;
}

/** The answer: status, content type and body text. */
export interface MetadataAnswer {
  status: number;
  type: string;
  body: string;
  headers?: Record<string, string>;
}

/** The secret and clock IMDSv2 tokens are made and checked with. */
export interface TokenKey {
  secret: Buffer;
  now: () => number;
}

const TEXT = 'text/plain; charset=utf-8';
const text = (body: string, status = 200): MetadataAnswer => ({ status, type: TEXT, body });
const notFound = (): MetadataAnswer => text('not found\n', 404);
const VERSION = /^(latest|\d{4}-\d{2}-\d{2})$/;
/** The dated EC2 versions listed at `/` (cloud-init asks for one of them). */
export const EC2_VERSIONS = ['2009-04-04', '2016-09-02', '2018-09-24', '2021-03-23', 'latest'];
const TOKEN_HEADER = 'x-aws-ec2-metadata-token';
const TTL_HEADER = 'x-aws-ec2-metadata-token-ttl-seconds';

const keysOf = (v: MetadataView) => v.sshKeys.map((k) => k.trim()).filter((k) => k !== '');
const short = (v: MetadataView) => v.hostname.split('.')[0]!;

/** nimbo's cloud-config and the customer's user-data, as the seed ISO carries them. */
export function nocloudUserData(v: MetadataView): string {
  return mergeUserData(nimboCloudConfig({ hostname: v.hostname, sshKeys: keysOf(v), ...(v.passwordHash !== undefined ? { passwordHash: v.passwordHash } : {}) }), v.userData);
}

/** The EC2 meta-data tree: a string is a leaf, an object a directory. */
function ec2Tree(v: MetadataView): Record<string, unknown> {
  const keys = keysOf(v);
  return {
    'ami-id': v.image,
    hostname: v.hostname,
    'instance-id': v.instanceId,
    'instance-type': `nimbo.${v.cpus}c.${Math.round(v.memory / 2 ** 20)}m`,
    'local-hostname': short(v),
    'local-ipv4': v.localIpv4,
    mac: v.mac,
    placement: { 'availability-zone': 'nimbo' },
    // EC2: public-keys/ lists "N=name"; public-keys/N/ lists "openssh-key".
    'public-keys': Object.fromEntries(keys.map((k, i) => [`${i}`, { 'openssh-key': k }])),
  };
}

function ec2MetaData(v: MetadataView, parts: string[]): MetadataAnswer {
  let node: unknown = ec2Tree(v);
  const trail = parts.filter((p, i) => p !== '' || i < parts.length - 1);
  for (const p of trail) {
    // public-keys/0=name is listed; public-keys/0/ is the path (as on EC2).
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, p)) return notFound();
    node = (node as Record<string, unknown>)[p];
  }
  if (typeof node === 'string') return text(node);
  const entries = Object.entries(node as Record<string, unknown>);
  const inKeys = trail.length === 1 && trail[0] === 'public-keys';
  return text(entries.map(([k, val]) => (inKeys ? `${k}=key-${k}` : typeof val === 'string' ? k : `${k}/`)).join('\n') + (entries.length ? '\n' : ''));
}

function identityDocument(v: MetadataView): string {
  return JSON.stringify({ instanceId: v.instanceId, imageId: v.image, instanceType: `nimbo.${v.cpus}c.${Math.round(v.memory / 2 ** 20)}m`, privateIp: v.localIpv4, region: 'nimbo', availabilityZone: 'nimbo', version: '2017-09-30' }, null, 2) + '\n';
}

/** An IMDSv2 token for this instance, valid `ttl` seconds: "EXPIRY.HMAC(instance, expiry)". */
export function makeToken(key: TokenKey, instanceId: string, ttl: number): string {
  const exp = Math.floor(key.now() / 1000) + ttl;
  return `${exp}.${createHmac('sha256', key.secret).update(`${instanceId}\n${exp}`).digest('base64url')}`;
}

/** True when `token` was made for this instance and has not expired. */
export function checkToken(key: TokenKey, instanceId: string, token: string): boolean {
  const m = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m || Number(m[1]) * 1000 < key.now()) return false;
  const want = createHmac('sha256', key.secret).update(`${instanceId}\n${m[1]}`).digest();
  const got = Buffer.from(m[2]!, 'base64url');
  return got.length === want.length && timingSafeEqual(got, want);
}

/** The answer to one request from the instance `v`. Pure apart from the token key's clock. */
export function routeMetadata(req: MetadataRequest, v: MetadataView, key: TokenKey): MetadataAnswer {
  const parts = req.path.split('/').slice(1);
  if (req.method === 'PUT') {
    if (req.path !== '/latest/api/token') return text('method not allowed\n', 405);
    const ttl = Number(req.headers[TTL_HEADER]);
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21600) return text(`${TTL_HEADER} must be a whole number of seconds from 1 to 21600\n`, 400);
    return { ...text(makeToken(key, v.instanceId, ttl)), headers: { [TTL_HEADER]: String(ttl) } };
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') return text('method not allowed\n', 405);
  // IMDSv1 (no token) is served; a token that is sent must be valid (as on EC2).
  const token = req.headers[TOKEN_HEADER];
  if (token !== undefined && !checkToken(key, v.instanceId, token)) return text('invalid or expired metadata token\n', 401);
  if (req.path === '/') return text(EC2_VERSIONS.join('\n') + '\nnocloud/\n');
  if (parts[0] === 'nocloud') {
    if (parts.length === 2 && parts[1] === '') return text('meta-data\nuser-data\nvendor-data\n');
    if (parts.length !== 2) return notFound();
    if (parts[1] === 'meta-data') return text(metaData({ instanceId: v.instanceId, hostname: v.hostname }));
    if (parts[1] === 'user-data') return text(nocloudUserData(v));
    if (parts[1] === 'vendor-data') return text(v.vendorData ?? '');
    return notFound();
  }
  if (!VERSION.test(parts[0] ?? '')) return notFound();
  const rest = parts.slice(1);
  if (rest.length === 0 || (rest.length === 1 && rest[0] === '')) return text('dynamic\nmeta-data\nuser-data\n');
  if (rest[0] === 'user-data' && rest.length === 1) return v.userData === undefined ? notFound() : text(v.userData);
  if (rest[0] === 'meta-data') return ec2MetaData(v, rest.slice(1));
  if (rest[0] === 'dynamic') {
    const p = rest.slice(1).join('/');
    if (p === '') return text('instance-identity/\n');
    if (p === 'instance-identity/' || p === 'instance-identity') return text('document\n');
    if (p === 'instance-identity/document') return { status: 200, type: 'application/json', body: identityDocument(v) };
  }
  return notFound();
}
