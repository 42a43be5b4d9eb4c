import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest, type RouteOptions } from 'fastify';
import websocket from '@fastify/websocket';
import swagger from '@fastify/swagger';
import { Type } from '@sinclair/typebox';
import { HostInfo } from '../shared/api-types.js';
import { installAuthentication } from './authn.js';
import { installAuthorization } from './authz.js';
import { installWebSocketRecheck } from './ws-recheck.js';
import { keys } from '../store/keys.js';
import { WsTickets } from '../core/authz/ws-tickets.js';
import { installTicketAuthentication } from './ws-ticket-auth.js';
import type { Principal } from '../core/identity/principal.js';
import { ticketRoutes } from './routes-tickets.js';
import { errorHandler } from './errors.js';
import { installValidators } from './validators.js';
import type { ApiContext } from './context.js';
import { instanceRoutes } from './routes-instances.js';
import { imageRoutes } from './routes-images.js';
import { operationRoutes } from './routes-operations.js';
import { liveRoutes } from './routes-live.js';
import { vncRoutes } from './routes-vnc.js';
import { imageUploadRoutes } from './routes-image-upload.js';
import { imageFetchRoutes } from './routes-image-fetch.js';
import { storageRoutes } from './routes-storage.js';
import { mediaRoutes } from './routes-media.js';
import { snapshotRoutes } from './routes-snapshots.js';
import { copyRoutes } from './routes-copy.js';
import { instancePatchRoutes } from './routes-instance-patch.js';
import { networkRoutes } from './routes-networks.js';
import { firewallRoutes } from './routes-firewall.js';
import { containerRoutes } from './routes-containers.js';
import { planRoutes } from './routes-plans.js';
import { vpsActionRoutes } from './routes-vps-actions.js';
import { backupRoutes } from './routes-backups.js';
import { backupStoreRoutes } from './routes-backup-stores.js';
import { VERSION } from '../shared/version.js';
import { componentSchemas, transformRoute } from './openapi.js';
import { apiDocsRoutes } from './api-docs.js';
import { webPanelRoutes } from './web-panel.js';
import { identityRoutes } from './routes-identity.js';
import { identityAdminRoutes } from './routes-identity-admin.js';
import { installAuditHook, type AuditSink } from './audit-hook.js';
import { installRateLimit } from './rate-limit-hook.js';
import type { RateLimits } from './rate-limit.js';
import { auditRoutes } from './audit-routes.js';
import { webhookRoutes } from './webhook-routes.js';
import { usageRoutes } from './usage-routes.js';
import { metricsExpositionRoute, metricsHistoryRoutes } from './routes-metrics.js';

/** Options of buildServer beyond the services. */
export interface ServerOptions {
  /** Called for each route as it is registered, after nimbo's own route hooks (tests walk the route table). */
  onRoute?: (route: RouteOptions) => void;
  /** Serve HTTPS with this PEM certificate chain and key (nimbod turns it on beyond loopback). */
  https?: { cert: string; key: string };
  /** Tests only: the principal of each request, instead of checking its credential (undefined: 401). */
  authenticate?: (req: FastifyRequest) => Principal | undefined;
  /** How often an open WebSocket's credential is checked again (default api/ws-recheck.ts RECHECK_MS; tests shorten it). */
  wsRecheckMs?: number;
  /** Record mutating calls and logins here (core/audit); absent: no audit records. */
  audit?: AuditSink;
  /** Limit requests per caller and per address (api/rate-limit.ts); absent: no limits. */
  rateLimits?: RateLimits;
  /** The built web panel's folder (default web/dist of this checkout). */
  webRoot?: string;
  /** The WebSocket tickets (tests pass one with their own clock); default: a fresh WsTickets. */
  tickets?: WsTickets;
}

/** Build the HTTP API (REST + WebSocket) on top of the core services. */
export async function buildServer(ctx: ApiContext, opts: ServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    ...(opts.https ? { https: opts.https } : {}),
    // Request lines are logged at info; the API logger keeps warnings and errors only.
    loggerInstance: ctx.log.child({ svc: 'api' }, { level: 'warn' }) as unknown as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
  });
  app.setErrorHandler(errorHandler);
  installValidators(app);
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'nimbo API',
        version: VERSION,
        description: 'REST API of nimbod. Long actions answer 202 with an Operation.',
        license: { name: 'Apache-2.0', url: 'https://www.apache.org/licenses/LICENSE-2.0' },
      },
      servers: [{ url: 'http://127.0.0.1:8443', description: 'nimbod on loopback (the default)' }, { url: 'https://{host}:8443', description: 'nimbod (HTTPS beyond loopback)', variables: { host: { default: 'localhost' } } }],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } }, schemas: componentSchemas() as never },
      security: [{ bearer: [] }],
    },
    transform: transformRoute as never,
  });
  await app.register(websocket);

  // Before any route: the address's rate limit, authentication, the caller's rate limit, the audit
  // record, then authorization, decided on the matched route, deny by default.
  const tickets = opts.tickets ?? new WsTickets();
  if (opts.rateLimits) installRateLimit(app, 'address', opts.rateLimits);
  const authenticate = opts.authenticate;
  if (authenticate) app.addHook('onRequest', async (req) => void (req.principal = authenticate(req)));
  installTicketAuthentication(app, tickets, () => ctx.store);
  installAuthentication(app, () => ctx.store);
  installWebSocketRecheck(app, () => ctx.store, () => ctx.log, opts.wsRecheckMs);
  if (opts.rateLimits) installRateLimit(app, 'caller', opts.rateLimits);
  if (opts.audit) installAuditHook(app, opts.audit);
  installAuthorization(app, async (name) => (await ctx.store.get(keys.project(name))) !== undefined);
  if (opts.onRoute) app.addHook('onRoute', opts.onRoute);
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: { code: 'NotFound', message: `no route ${req.method} ${req.url.split('?')[0]!.slice(0, 200)}` } }));

  await apiDocsRoutes(app);
  await webPanelRoutes(app, opts.webRoot);
  await metricsExpositionRoute(app, ctx);
  await app.register(
    async (api) => {
      api.get('/health', { config: { public: true }, schema: { tags: ['host'], summary: 'Liveness (no auth)', response: { 200: Type.Object({ status: Type.Literal('ok') }) } } }, async () => ({ status: 'ok' as const }));
      // Every signed-in caller may learn the daemon's version (GET /host is for admins and operators).
      api.get('/version', { config: { access: { action: 'read', resource: 'self' } }, schema: { tags: ['host'], summary: "The daemon's and the API's versions", response: { 200: Type.Object({ version: Type.String(), api: Type.Literal('v1') }) } } }, async () => ({ version: VERSION, api: 'v1' as const }));
      api.get('/host', { config: { access: { action: 'read', resource: 'host' } }, schema: { tags: ['host'], summary: 'Host facts, accelerator and checks', response: { 200: HostInfo } } }, () => ctx.hostInfo());
      // The API's description is public, like /api/docs that renders it; it holds no state.
      api.get('/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());
      await ticketRoutes(api, tickets);
      await instanceRoutes(api, ctx);
      await imageRoutes(api, ctx);
      await imageUploadRoutes(api, ctx);
      await imageFetchRoutes(api, ctx);
      await operationRoutes(api, ctx);
      await liveRoutes(api, ctx);
      await vncRoutes(api, ctx);
      await storageRoutes(api, ctx);
      await mediaRoutes(api, ctx);
      await snapshotRoutes(api, ctx);
      await copyRoutes(api, ctx);
      await instancePatchRoutes(api, ctx);
      await networkRoutes(api, ctx);
      await firewallRoutes(api, ctx);
      await containerRoutes(api, ctx);
      await planRoutes(api, ctx);
      await vpsActionRoutes(api, ctx);
      await backupRoutes(api, ctx);
      await backupStoreRoutes(api, ctx);
      await identityRoutes(api, ctx);
      await identityAdminRoutes(api, ctx);
      await auditRoutes(api, () => ctx.audit);
      await webhookRoutes(api, () => ctx.webhooks);
      await usageRoutes(api, () => ctx.usage);
      await metricsHistoryRoutes(api, ctx);
    },
    { prefix: '/api/v1' },
  );
  return app;
}

