// WebSocket tickets at the API's edge: a WebSocket upgrade to a WebSocket route may carry `?ticket=` from
// POST /api/v1/auth/ticket instead of an Authorization header (browsers cannot set one there). It runs
// before the authentication hook (authn.ts), which leaves a request this hook proved alone. A ticket
// opens only the WebSocket it was issued for (core/authz/ws-tickets.ts), and only while what it was
// traded for holds: a session's ticket needs that session's cookie on the upgrade and the session alive
// (a logout voids it), a token's ticket needs the token unrevoked and unexpired.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { recheckPrincipal } from '../core/auth.js';
import type { Principal } from '../core/identity/principal.js';
import type { WsTickets } from '../core/authz/ws-tickets.js';
import { NimboError } from '../lib/errors.js';
import type { Store } from '../store/store.js';
import { csrfProblem, isPublicRoute, type RouteAccess } from './authn.js';
import { defaultProject, queryProject } from './authz.js';
import { readCookie } from './cookies.js';

/** Redeem `?ticket=` on WebSocket upgrades; install before installAuthentication. */
export function installTicketAuthentication(app: FastifyInstance, tickets: WsTickets, store: () => Store): void {
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const config = req.routeOptions.config as RouteAccess | undefined;
    const query = req.query as Record<string, unknown> | undefined;
    if (query?.ticket === undefined || isPublicRoute(req.routeOptions.url, config)) return;
    // Anywhere else authentication refuses it; a header, when given, is the credential.
    const upgrade = (req as FastifyRequest & { ws?: boolean }).ws === true && config?.websocket === true;
    if (!upgrade || req.headers.authorization !== undefined) return;
    if (typeof query.ticket !== 'string') return refuse(reply, 400, 'the ticket parameter was given more than once');
    const project = queryProject(query);
    if ('message' in project) return refuse(reply, 400, project.message);
    const name = (req.params as Record<string, unknown> | undefined)?.name;
    const peek = tickets.redeem(query.ticket, { ...project, ...(typeof name === 'string' ? { instance: name } : {}) }, defaultProject);
    if ('refused' in peek) return refuse(reply, 401, peek.refused);
    const problem = await boundProblem(req, peek.principal, store());
    if (problem) return refuse(reply, problem.status, problem.message);
    // Spent: the route's own query schema never sees it.
    delete query.ticket;
    req.principal = peek.principal;
  });
}

/** Why the session or token a ticket was issued to no longer lets it open this upgrade, or undefined. */
async function boundProblem(req: FastifyRequest, principal: Principal, store: Store): Promise<{ status: 401 | 403; message: string } | undefined> {
  if (principal.sessionId) {
    // A ticket that leaked (a log, a screen share) is no use without the browser's session cookie.
    if (readCookie(req.headers.cookie) !== principal.sessionId) return { status: 401, message: 'the ticket was issued to a login session: the WebSocket upgrade must carry that same session cookie' };
    const csrf = csrfProblem(req, '');
    if (csrf) return { status: 403, message: csrf };
  }
  try {
    await recheckPrincipal(store, principal);
    return undefined;
  } catch (e) {
    if (e instanceof NimboError && e.code === 'Unauthorized') {
      const what = principal.sessionId ? 'the session the ticket was issued to has ended (log in again)' : 'the token the ticket was issued to no longer holds';
      return { status: 401, message: `${what}: ${e.message}` };
    }
    throw e;
  }
}

function refuse(reply: FastifyReply, status: 400 | 401 | 403, message: string) {
  if (status === 401) reply.header('WWW-Authenticate', 'Bearer realm="nimbo"');
  const code = status === 400 ? 'InvalidArgument' : status === 401 ? 'Unauthorized' : 'Forbidden';
  return reply.code(status).send({ error: { code, message } });
}
