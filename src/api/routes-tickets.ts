import { parse as parseQuery } from 'node:querystring';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ErrorBody, Name, NAME_PATTERN } from '../shared/api-types.js';
import { TICKET_TTL_MS, type WsTickets } from '../core/authz/ws-tickets.js';
import { invalid } from '../lib/errors.js';
import { defaultProject, queryProject } from './authz.js';

/** Answer of POST /auth/ticket. */
export const WsTicket = Type.Object({
  ticket: Type.String({ description: 'pass as ?ticket= on one WebSocket upgrade' }),
  expiresAt: Type.String({ format: 'date-time' }),
  project: Type.String({ description: 'the project the ticket is good in (pass the same ?project= on the upgrade, or none for your default)' }),
  instance: Type.Optional(Type.String({ description: 'the instance whose console, exec or vnc WebSocket the ticket opens; absent: only /events' })),
});

/** Body of POST /auth/ticket. */
const TicketRequest = Type.Object({ instance: Type.Optional(Name) }, { additionalProperties: false });

/** POST /api/v1/auth/ticket: a single-use WebSocket ticket for the caller. */
export async function ticketRoutes(app: FastifyInstance, tickets: WsTickets) {
  app.post<{ Body: { instance?: string } | undefined }>(
    '/auth/ticket',
    {
      // A ticket carries exactly the caller's principal and token scope, so it grants nothing new: even a
      // read-only token may get one (to open the events stream from a browser). The WebSocket's own access
      // is checked when the ticket is spent.
      config: { access: { action: 'read', resource: 'self' } },
      schema: {
        tags: ['auth'],
        summary: `A single-use ticket that authenticates one WebSocket upgrade (?ticket=) within ${TICKET_TTL_MS / 1000} s, as the caller`,
        description:
          'For browsers, which cannot set an Authorization header on a WebSocket. Tokens are never accepted in URLs. With {"instance": NAME} the ticket opens only ' +
          "that instance's console, exec or vnc WebSocket in the project of ?project= (default: the caller's); without, only /events. A ticket got with a session " +
          'cookie is spent only on an upgrade that carries the same, still valid, session cookie; one got with a token only while the token holds.',
        querystring: Type.Object({ project: Type.Optional(Type.String({ pattern: NAME_PATTERN, minLength: 1, maxLength: 63 })) }),
        body: TicketRequest,
        response: { 201: WsTicket, 400: ErrorBody },
      },
      // No body at all (what older clients send) is the same as {}: a ticket for the events stream.
      preValidation: async (req) => {
        if (req.body === undefined) req.body = {};
      },
    },
    async (req, reply) => {
      // The authorization hook takes ?project= out for routes outside a project; the ticket needs it.
      const asked = queryProject(parseQuery(req.url.split('?')[1] ?? ''));
      if ('message' in asked) throw invalid(asked.message);
      const principal = req.principal!;
      const project = asked.project ?? defaultProject(principal);
      const instance = req.body?.instance;
      return reply.code(201).send(tickets.issue(principal, { project, ...(instance ? { instance } : {}) }));
    },
  );
}
