// Sync: pull another nimbo daemon's datastore into a local one over its API, fetching only the chunks
// the local store lacks. Chunks travel as stored (compressed, encrypted under the store key), so both
// stores must use the same key (or none): a backup made under another key is refused. Each pulled
// chunk is decoded and its digest checked before it is written; the snapshot is committed only after
// all its chunks are in, like a local backup.
import { request as httpsRequest } from 'node:https';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { BackupSync } from '../../shared/backup-types.js';
import { validateManifest, type BackupManifest } from '../../backup/manifest.js';
import { indexDigests, parseDynamicIndex, parseFixedIndex } from '../../backup/index-format.js';
import { conflict, invalid } from '../../lib/errors.js';
import type { Operation } from '../../shared/api-types.js';
import { lockTarget } from '../../store/keys.js';
import type { BaseDeps } from '../deps.js';
import type { BackupStores, OpenStore } from './backup-stores.js';

/** What the source daemon lists for a sync. */
export interface SyncListing {
  id: string;
  keyFingerprint: string | null;
  snapshots: { manifest: BackupManifest; files: string[] }[];
}

/** Most bytes one sync response may have (a chunk is at most a few MiB; a listing of many backups more). */
const MAX_BODY = 256 * 1024 * 1024;

/** GET `url` with the bearer token; https pins the certificate's SHA-256 fingerprint when one is given. */
export function fetchBuffer(url: string, token: string, fingerprint?: string): Promise<Buffer> {
  const u = new URL(url);
  const pin = fingerprint?.replace(/:/g, '').toUpperCase();
  return new Promise((resolve, reject) => {
    const onRes = (res: IncomingMessage) => {
      const parts: Buffer[] = [];
      let n = 0;
      res.on('data', (c: Buffer) => {
        n += c.length;
        if (n > MAX_BODY) res.destroy(new Error(`${url}: answer over ${MAX_BODY} bytes`));
        else parts.push(c);
      });
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(parts);
        if (res.statusCode === 200) return resolve(body);
        let msg = body.toString('utf8').slice(0, 300);
        try {
          msg = (JSON.parse(msg) as { message?: string }).message ?? msg;
        } catch { /* not JSON */ }
        reject(conflict(`the other daemon answered ${res.statusCode} for ${u.pathname}: ${msg}`));
      });
    };
    const headers = { authorization: `Bearer ${token}` };
    const req = u.protocol === 'https:'
      ? httpsRequest(u, { headers, rejectUnauthorized: !pin, timeout: 60_000 }, onRes)
      : httpRequest(u, { headers, timeout: 60_000 }, onRes);
    if (pin) {
      req.on('socket', (s) => s.on('secureConnect', () => {
        const got = (s as TLSSocket).getPeerCertificate().fingerprint256?.replace(/:/g, '').toUpperCase();
        if (got !== pin) req.destroy(conflict(`the other daemon's certificate is ${got}, not the pinned ${pin}: refusing to sync`));
      }));
    }
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer in 60 s`)));
    req.on('error', reject);
    req.end();
  });
}

/** The listing a sync source answers (every backup of the store, with its files). */
export async function syncListing(st: OpenStore): Promise<SyncListing> {
  const snaps = await st.ds.listSnapshots({});
  return { id: st.rec.id, keyFingerprint: st.rec.keyFingerprint, snapshots: snaps.map((m) => ({ manifest: m, files: m.archives.map((a) => a.file) })) };
}

/** Pulls of datastores from other daemons. */
export class BackupSyncer {
  constructor(private d: BaseDeps, private stores: BackupStores) {}

  /** Pull `req.store` of the daemon at `req.url` into local store `store`, as an Operation. */
  async pull(store: string, req: BackupSync): Promise<Operation> {
    const st = await this.stores.use(store);
    const u = new URL(req.url);
    if (u.protocol === 'http:' && !['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) throw invalid('sync from another host needs https (plain http only on loopback)');
    const base = `${req.url.replace(/\/+$/, '')}/api/v1/backup-stores/${encodeURIComponent(req.store)}/sync`;
    const get = (path: string) => fetchBuffer(`${base}${path}`, req.token, req.fingerprint);
    return this.d.ops.start('backup.sync', `backup-store/${store}`, async (ctx) => {
      const listing = JSON.parse((await get('')).toString('utf8')) as SyncListing;
      if (listing.keyFingerprint !== st.rec.keyFingerprint) {
        throw conflict(`store ${req.store} there is ${listing.keyFingerprint ? `encrypted with key ${listing.keyFingerprint}` : 'not encrypted'}, store ${store} here ${st.rec.keyFingerprint ? `with key ${st.rec.keyFingerprint}` : 'is not encrypted'}: a sync needs the same key on both`);
      }
      const have = new Set((await st.ds.listSnapshots({})).map((m) => m.id));
      const todo = listing.snapshots.filter((s) => !have.has(s.manifest.id));
      let chunks = 0;
      let bytes = 0;
      let done = 0;
      const writer = st.writers.begin();
      try {
        for (const snap of todo) {
          ctx.checkCancelled();
          const m = validateManifest(snap.manifest, `backup ${String((snap.manifest as { id?: unknown })?.id).slice(0, 40)} from the other daemon`);
          if (m.keyFingerprint !== st.rec.keyFingerprint) throw conflict(`backup ${m.id} was made with key ${m.keyFingerprint}, not this store's ${st.rec.keyFingerprint}: refused`);
          const files: { name: string; data: Buffer | string }[] = [];
          for (const a of m.archives) {
            if (!/^[A-Za-z0-9._-]{1,128}$/.test(a.file)) throw conflict(`backup ${m.id}: archive file name ${JSON.stringify(a.file)} refused`);
            const data = await get(`/snapshots/${encodeURIComponent(m.project)}/${encodeURIComponent(m.instance.uuid)}/${encodeURIComponent(m.id)}/${encodeURIComponent(a.file)}`);
            files.push({ name: a.file, data });
            for (const digest of indexDigests(a.type === 'fixed' ? parseFixedIndex(data) : parseDynamicIndex(data))) {
              await writer.claim(digest);
              if (await st.ds.touchChunk(digest)) continue;
              const blob = await get(`/chunks/${digest}`);
              // Same key: decode and check the digest before the chunk is trusted.
              if (st.codec.digest(await st.codec.decode(blob)) !== digest) throw conflict(`chunk ${digest} from the other daemon does not match its digest`);
              await st.ds.insertChunk(digest, blob);
              chunks++;
              bytes += blob.length;
            }
          }
          await st.ds.commitSnapshot(m, files);
          done++;
          ctx.progress(Math.floor((done / todo.length) * 100), `${done}/${todo.length} backups`);
        }
      } finally {
        writer.end();
      }
      return { backups: done, chunks, bytes, skipped: listing.snapshots.length - todo.length };
    }, { lockAs: lockTarget.backupStore(store) });
  }
}
