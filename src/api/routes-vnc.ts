import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { Name } from '../shared/api-types.js';
import type { ApiContext } from './context.js';
import { relayDuplex } from './ws-flow.js';
import { projectOf } from './request-project.js';

/** Close code when the instance has no VGA console to open (none, not running, a container). */
export const WS_NO_CONSOLE = 4404;

/** GET /instances/:name/vnc: the VGA console of a VM as RFB over a WebSocket (what noVNC speaks). */
export async function vncRoutes(app: FastifyInstance, ctx: ApiContext) {
  app.get<{ Params: { name: string } }>(
    '/instances/:name/vnc',
    {
      websocket: true,
      config: { access: { action: 'write', resource: 'instance' } },
      schema: {
        tags: ['instances'],
        summary: "WebSocket to a VM's VGA console: RFB (VNC) in binary frames both ways, for noVNC (subprotocol \"binary\" accepted); closed with 4404 and a reason when there is none",
        params: Type.Object({ name: Name }),
      },
    },
    async (socket, req) => {
      // RFB is client-after-server: nothing the client sends before the server's greeting matters, but keep order.
      const early: Buffer[] = [];
      const keep = (d: Buffer) => early.push(d);
      socket.on('message', keep);
      const rec = await ctx.instances.record(projectOf(req), req.params.name).catch(() => undefined);
      if (!rec) return socket.close(WS_NO_CONSOLE, `no instance ${req.params.name}`);
      let stream;
      try {
        stream = await ctx.instances.openVnc(rec);
      } catch (e) {
        return socket.close(WS_NO_CONSOLE, (e instanceof Error ? e.message : String(e)).slice(0, 120));
      }
      socket.off('message', keep);
      if (socket.readyState !== socket.OPEN) return void stream.destroy();
      for (const d of early) stream.write(d);
      relayDuplex(socket, stream, 'the VGA console');
    },
  );
}
