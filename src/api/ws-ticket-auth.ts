// WebSocket tickets at the API's edge: a WebSocket upgrade to a WebSocket route may carry `?ticket=` from
// POST /api/v1/auth/ticket instead of an Authorization header (browsers cannot set one there). It runs
// before the authentication hook (authn.ts), which leaves a request this hook proved alone.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { WsTickets } from '../core/authz/ws-tickets.js';
import { isPublicRoute, type RouteAccess } from './authn.js';

/** Redeem `?ticket=` on WebSocket upgrades; install before installAuthentication. */
export function installTicketAuthentication(app: FastifyInstance, tickets: WsTickets): void {
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const config = req.routeOptions.config as RouteAccess | undefined;
    const query = req.query as Record<string, unknown> | undefined;
    if (query?.ticket === undefined || isPublicRoute(req.routeOptions.url, config)) return;
    // Anywhere else authentication refuses it; a header, when given, is the credential.
    const upgrade = (req as FastifyRequest & { ws?: boolean }).ws === true && config?.websocket === true;
    if (!upgrade || req.headers.authorization !== undefined) return;
    if (typeof query.ticket !== 'string') return refuse(reply, 400, 'the ticket parameter was given more than once');
    const principal = tickets.redeem(query.ticket);
    if (!principal) return refuse(reply, 401, 'the ticket is unknown, used or expired: get a new one from POST /api/v1/auth/ticket');
    // Spent: the route's own query schema never sees it.
    delete query.ticket;
    req.principal = principal;
  });
}

function refuse(reply: FastifyReply, status: 400 | 401, message: string) {
  if (status === 401) reply.header('WWW-Authenticate', 'Bearer realm="nimbo"');
  return reply.code(status).send({ error: { code: status === 400 ? 'InvalidArgument' : 'Unauthorized', message } });
}
