import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import swagger from '@fastify/swagger';
import { Type } from '@sinclair/typebox';
import { HostInfo } from '../shared/api-types.js';
import { verifyToken } from '../core/auth.js';
import { errorHandler } from './errors.js';
import type { ApiContext } from './context.js';
import { instanceRoutes } from './routes-instances.js';
import { imageRoutes } from './routes-images.js';
import { operationRoutes } from './routes-operations.js';
import { liveRoutes } from './routes-live.js';
import { storageRoutes } from './routes-storage.js';
import { snapshotRoutes } from './routes-snapshots.js';
import { copyRoutes } from './routes-copy.js';
import { networkRoutes } from './routes-networks.js';
import { firewallRoutes } from './routes-firewall.js';
import { containerRoutes } from './routes-containers.js';
import { VERSION } from '../shared/version.js';

const PUBLIC = new Set(['/api/v1/health']);

/** Options of the server itself (not of the services). */
export interface ServerOptions {
  /** Serve HTTPS with this PEM certificate chain and key (nimbod turns it on beyond loopback). */
  https?: { cert: string; key: string };
}

/** Build the HTTP API (REST + WebSocket) on top of the core services. */
export async function buildServer(ctx: ApiContext, opts: ServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    ...(opts.https ? { https: opts.https } : {}),
    // Request lines are logged at info; the API logger keeps warnings and errors only.
    loggerInstance: ctx.log.child({ svc: 'api' }, { level: 'warn' }) as unknown as FastifyBaseLogger,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
    bodyLimit: 1024 * 1024,
  });
  app.setErrorHandler(errorHandler);
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'nimbo API', version: VERSION, description: 'REST API of nimbod. Long actions answer 202 with an Operation.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(websocket);

  app.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?')[0]!;
    if (PUBLIC.has(path) || !path.startsWith('/api/')) return;
    const header = req.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : (req.query as { token?: string } | undefined)?.token;
    if (!(await verifyToken(ctx.store, token))) {
      return reply.code(401).send({ error: { code: 'Unauthorized', message: 'missing or invalid bearer token' } });
    }
  });

  await app.register(
    async (api) => {
      api.get('/health', { schema: { tags: ['host'], summary: 'Liveness (no auth)', security: [], response: { 200: Type.Object({ status: Type.Literal('ok') }) } } }, async () => ({ status: 'ok' as const }));
      api.get('/host', { schema: { tags: ['host'], summary: 'Host facts, accelerator and checks', response: { 200: HostInfo } } }, () => ctx.hostInfo());
      api.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
      await instanceRoutes(api, ctx);
      await imageRoutes(api, ctx);
      await operationRoutes(api, ctx);
      await liveRoutes(api, ctx);
      await storageRoutes(api, ctx);
      await snapshotRoutes(api, ctx);
      await copyRoutes(api, ctx);
      await networkRoutes(api, ctx);
      await firewallRoutes(api, ctx);
      await containerRoutes(api, ctx);
    },
    { prefix: '/api/v1' },
  );
  return app;
}
