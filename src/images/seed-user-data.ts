import { createHash } from 'node:crypto';
import { invalid } from '../lib/errors.js';

// A customer's user-data and vendor-data (cloud-init), and how nimbo's own cloud-config joins them.
// nimbo's part (hostname, SSH keys, password) and the customer's user-data go into one MIME multipart
// message (cloud-init's "mime-multi" format, https://cloudinit.readthedocs.io/en/latest/explanation/format.html):
// nimbo's text/cloud-config part first, the customer's part second. cloud-init merges cloud-config parts
// with its default merger (later parts replace earlier top-level keys), so a customer's own
// `ssh_authorized_keys` or `hostname` wins over nimbo's; scripts run as they would alone.

/** The most bytes of user-data (and of vendor-data) an instance takes: 64 KiB, as on EC2 (16 KiB) and DO (64 KiB). */
export const USER_DATA_MAX_BYTES = 64 * 1024;

/** Throws InvalidArgument unless `data` is usable user-data: at most 64 KiB of UTF-8 text without NUL bytes. */
export function checkUserData(what: 'user-data' | 'vendor-data', data: string): void {
  const bytes = Buffer.byteLength(data, 'utf8');
  if (bytes > USER_DATA_MAX_BYTES) throw invalid(`${what} is ${bytes} bytes; the limit is ${USER_DATA_MAX_BYTES} bytes (64 KiB)`);
  if (data.includes('\u0000')) throw invalid(`${what} must be text: it contains a NUL byte`);
  if (data.trim() === '') throw invalid(`${what} is empty`);
}

/** The MIME type cloud-init gives a part by its first line (its "starts with" rules); text/plain when none fits. */
export function partTypeOf(data: string): string {
  const first = data.slice(0, 64);
  if (first.startsWith('#cloud-config')) return 'text/cloud-config';
  if (first.startsWith('#!')) return 'text/x-shellscript';
  if (first.startsWith('#include')) return 'text/x-include-url';
  if (first.startsWith('#cloud-boothook')) return 'text/cloud-boothook';
  if (first.startsWith('## template: jinja')) return 'text/jinja2';
  if (first.startsWith('#part-handler')) return 'text/part-handler';
  return 'text/plain';
}

/** True when `data` is already a MIME message (starts with a Content-Type header). */
const isMime = (data: string) => /^content-type:\s*multipart\//i.test(data.trimStart());

/**
 * nimbo's cloud-config joined with the customer's user-data: nimbo's alone when there is none, else a
 * MIME multipart of both (a customer MIME message becomes one nested part, its own headers kept). Pure.
 */
export function mergeUserData(nimbo: string, user: string | undefined): string {
  if (user === undefined) return nimbo;
  // A boundary that occurs in neither text (derived from them, so the output is deterministic).
  let boundary = '';
  for (let i = 0; boundary === '' || nimbo.includes(boundary) || user.includes(boundary); i++) {
    boundary = `==nimbo-${createHash('sha256').update(`${i}\n${nimbo}\n${user}`).digest('hex').slice(0, 24)}==`;
  }
  const part = (type: string, body: string) => [`--${boundary}`, `Content-Type: ${type}; charset="utf-8"`, 'MIME-Version: 1.0', '', body.replace(/\n?$/, '\n')];
  const userPart = isMime(user)
    ? [`--${boundary}`, user.trimStart().replace(/\n?$/, '\n')]
    : part(partTypeOf(user), user);
  return [
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    'MIME-Version: 1.0',
    '',
    ...part('text/cloud-config', nimbo),
    ...userPart,
    `--${boundary}--`,
    '',
  ].join('\n');
}
