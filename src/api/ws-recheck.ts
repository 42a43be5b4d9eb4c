// An open WebSocket (console, exec, events) outlives the check made when it opened: every RECHECK_MS it
// asks again whether its credential holds (core/auth.ts recheckPrincipal), and a revoked or expired
// token, an ended session or a disabled or deleted user closes it.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { recheckPrincipal } from '../core/auth.js';
import type { Logger } from '../lib/log.js';
import type { Store } from '../store/store.js';

/** How often an open WebSocket's credential is checked again. */
export const RECHECK_MS = 15_000;

/** Install after authentication: each WebSocket upgrade with a principal gets its periodic check. */
export function installWebSocketRecheck(app: FastifyInstance, store: () => Store, log: () => Logger, everyMs = RECHECK_MS): void {
  app.addHook('onRequest', async (req: FastifyRequest) => {
    const principal = req.principal;
    if ((req as FastifyRequest & { ws?: boolean }).ws !== true || !principal) return;
    const socket = req.raw.socket;
    const timer = setInterval(() => {
      recheckPrincipal(store(), principal).catch((e: unknown) => {
        clearInterval(timer);
        log().info({ user: principal.userName, url: req.url.split('?')[0], why: (e as Error).message }, 'closing a WebSocket whose credential no longer holds');
        socket.destroy();
      });
    }, everyMs);
    timer.unref();
    socket.once('close', () => clearInterval(timer));
  });
}
