import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { Name } from '../shared/api-types.js';
import type { ApiContext } from './context.js';

/** WebSocket routes: /events (JSON events) and /instances/:name/console (serial), plus the console log. */
export async function liveRoutes(app: FastifyInstance, ctx: ApiContext) {
  app.get('/events', { websocket: true, schema: { tags: ['events'], summary: 'WebSocket stream of events (JSON messages)' } }, (socket) => {
    const off = ctx.events.subscribe((ev) => socket.send(JSON.stringify(ev)));
    socket.on('close', off);
  });

  app.get<{ Params: { name: string } }>(
    '/instances/:name/console',
    { websocket: true, schema: { tags: ['instances'], summary: 'WebSocket to the serial console of a VM, or a login shell on a pty in a container (binary frames both ways)', params: Type.Object({ name: Name }) } },
    async (socket, req) => {
      const name = req.params.name;
      const rec = await ctx.instances.record(name).catch(() => undefined);
      if (rec?.type === 'container' && ctx.instances.containers) {
        // A container has no serial line: the console is a login shell on a pty inside it.
        try {
          const child = await ctx.instances.containers.shell(rec);
          child.stdout?.on('data', (chunk: Buffer) => socket.send(chunk));
          child.on('exit', () => socket.close(1000, 'shell exited'));
          socket.on('message', (data: Buffer) => child.stdin?.write(data));
          socket.on('close', () => child.kill('SIGHUP'));
        } catch (e) {
          socket.close(4409, (e instanceof Error ? e.message : String(e)).slice(0, 120));
        }
        return;
      }
      const relay = ctx.consoles.get(name);
      if (!relay) {
        socket.close(4404, `instance ${name} has no running console`);
        return;
      }
      socket.send(relay.tail(16 * 1024));
      const off = relay.onData((chunk: Buffer) => socket.send(chunk));
      socket.on('message', (data: Buffer) => relay.write(data));
      socket.on('close', off);
    },
  );

  app.get<{ Params: { name: string }; Querystring: { bytes?: number } }>(
    '/instances/:name/console/log',
    {
      schema: {
        tags: ['instances'],
        summary: 'Recent serial console output (text)',
        params: Type.Object({ name: Name }),
        querystring: Type.Object({ bytes: Type.Optional(Type.Integer({ minimum: 1, maximum: 1048576 })) }, { additionalProperties: false }),
      },
    },
    async (req, reply) => {
      await ctx.instances.record(req.params.name);
      reply.type('text/plain; charset=utf-8');
      return ctx.consoles.logTail(req.params.name, req.query.bytes ?? 65536);
    },
  );
}
