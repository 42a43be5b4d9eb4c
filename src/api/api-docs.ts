// Rendered API reference at /api/docs: a static page and Redoc's standalone bundle (from npm),
// reading the public /api/v1/openapi.json. Both are public: they describe the API, they expose no state.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { FastifyInstance } from 'fastify';

const PAGE = `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>nimbo API reference</title></head>
<body><redoc spec-url="/api/v1/openapi.json"></redoc><script src="/api/docs/redoc.standalone.js"></script></body>
</html>
`;

let bundle: Buffer | undefined;
// Read once, on the first request, so a daemon that never serves the docs never loads 1 MiB of JS.
const redocBundle = () => (bundle ??= readFileSync(createRequire(import.meta.url).resolve('redoc/bundles/redoc.standalone.js')));

/** GET /api/docs (HTML) and /api/docs/redoc.standalone.js, both public and absent from the OpenAPI document. */
export async function apiDocsRoutes(app: FastifyInstance): Promise<void> {
  const schema = { hide: true };
  app.get('/api/docs', { config: { public: true }, schema }, async (_req, reply) =>
    reply.header('X-Content-Type-Options', 'nosniff').header('Cache-Control', 'no-cache').type('text/html; charset=utf-8').send(PAGE));
  app.get('/api/docs/redoc.standalone.js', { config: { public: true }, schema }, async (_req, reply) =>
    reply.header('X-Content-Type-Options', 'nosniff').header('Cache-Control', 'public, max-age=86400').type('application/javascript; charset=utf-8').send(redocBundle()));
}
