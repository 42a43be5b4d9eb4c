// The web panel (web/, built by Vite into web/dist) served by nimbod itself: "/" is the single page and
// /assets/{file} its hashed scripts and styles. Both are public: they hold no state; everything the panel shows
// comes from the authenticated API. The files are read once and looked up by exact name, so no request path
// ever reaches the filesystem.
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Where the built panel lies by default: web/dist of the checkout this daemon runs from (dist/src/api -> repo root). */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../../web/dist', import.meta.url));

/** The panel's Content-Security-Policy: its own scripts only, API calls and WebSockets to this daemon only. */
export const PANEL_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  // xterm.js, noVNC and uPlot set element styles at run time.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

interface Asset {
  body: Buffer;
  gzip?: Buffer;
  type: string;
}

const TYPES: Record<string, string> = {
  '.js': 'application/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.html': 'text/html; charset=utf-8',
};

/** Load the built panel from `root`: index.html and every file of assets/ (undefined when not built). */
export function loadPanel(root: string): { index: Asset; assets: Map<string, Asset> } | undefined {
  const indexPath = join(root, 'index.html');
  if (!existsSync(indexPath)) return undefined;
  const asset = (path: string, name: string): Asset => {
    const body = readFileSync(path);
    const ext = name.slice(name.lastIndexOf('.'));
    const type = TYPES[ext] ?? 'application/octet-stream';
    return { body, type, ...(/^(text|application\/javascript|image\/svg)/.test(type) && body.length > 1024 ? { gzip: gzipSync(body, { level: 9 }) } : {}) };
  };
  const assets = new Map<string, Asset>();
  const dir = join(root, 'assets');
  if (existsSync(dir)) for (const f of readdirSync(dir)) if (/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(f)) assets.set(f, asset(join(dir, f), f));
  return { index: asset(indexPath, 'index.html'), assets };
}

/** GET / (the panel) and GET /assets/{file}, public and absent from the OpenAPI document. */
export async function webPanelRoutes(app: FastifyInstance, root = DEFAULT_WEB_ROOT): Promise<void> {
  let panel: ReturnType<typeof loadPanel>;
  // Read on first use (and again while missing): a daemon whose panel was built after it started still finds it.
  const get = () => (panel ??= loadPanel(root));
  const schema = { hide: true };
  app.get('/', { config: { public: true }, schema }, async (req, reply) => {
    const p = get();
    if (!p) return reply.code(503).type('text/plain; charset=utf-8').send('The web panel is not built: run `npm run build` (or ./nimbo up) in the nimbo checkout, then reload.\n');
    reply.header('Content-Security-Policy', PANEL_CSP).header('Cache-Control', 'no-cache').header('Referrer-Policy', 'no-referrer').header('X-Frame-Options', 'DENY');
    return send(req, reply, p.index);
  });
  app.get<{ Params: { file: string } }>('/assets/:file', { config: { public: true }, schema }, async (req, reply) => {
    const a = get()?.assets.get(req.params.file);
    if (!a) return reply.code(404).send({ error: { code: 'NotFound', message: `no panel asset ${req.params.file.slice(0, 100)}` } });
    // Asset names carry a hash of their content: they never change.
    reply.header('Cache-Control', 'public, max-age=31536000, immutable');
    return send(req, reply, a);
  });
}

function send(req: FastifyRequest, reply: FastifyReply, a: Asset) {
  reply.header('X-Content-Type-Options', 'nosniff').header('Vary', 'Accept-Encoding').type(a.type);
  if (a.gzip && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) return reply.header('Content-Encoding', 'gzip').send(a.gzip);
  return reply.send(a.body);
}
