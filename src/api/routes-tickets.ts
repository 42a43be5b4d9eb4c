import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ErrorBody } from '../shared/api-types.js';
import { TICKET_TTL_MS, type WsTickets } from '../core/authz/ws-tickets.js';

/** Answer of POST /auth/ticket. */
export const WsTicket = Type.Object({
  ticket: Type.String({ description: 'pass as ?ticket= on one WebSocket upgrade' }),
  expiresAt: Type.String({ format: 'date-time' }),
});

/** POST /api/v1/auth/ticket: a single-use WebSocket ticket for the caller. */
export async function ticketRoutes(app: FastifyInstance, tickets: WsTickets) {
  app.post(
    '/auth/ticket',
    {
      // A ticket carries exactly the caller's principal and token scope, so it grants nothing new: even a
      // read-only token may get one (to open the events stream from a browser).
      config: { access: { action: 'read', resource: 'self' } },
      schema: {
        tags: ['auth'],
        summary: `A single-use ticket that authenticates one WebSocket upgrade (?ticket=) within ${TICKET_TTL_MS / 1000} s, as the caller`,
        description: 'For browsers, which cannot set an Authorization header on a WebSocket. Tokens are never accepted in URLs.',
        response: { 201: WsTicket, 400: ErrorBody },
      },
    },
    async (req, reply) => reply.code(201).send(tickets.issue(req.principal!)),
  );
}
