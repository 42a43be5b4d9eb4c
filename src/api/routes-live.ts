import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { Name } from '../shared/api-types.js';
import type { ApiContext } from './context.js';
import type { ChildProcess } from '../host/spawn.js';
import { constants as osConstants } from 'node:os';
import type { WebSocket } from 'ws';
import { boundedSender, pipeToSocket } from './ws-flow.js';
import { mayUse } from './item-access.js';
import { projectOf } from './request-project.js';

/** WebSocket routes: /events (JSON events), /instances/:name/console (serial) and /exec (a pty in a container), plus the console log. */
export async function liveRoutes(app: FastifyInstance, ctx: ApiContext) {
  app.get('/events', { websocket: true, config: { access: { action: 'read', resource: 'event' } }, schema: { tags: ['events'], summary: 'WebSocket stream of events (JSON messages); a client more than 8 MiB behind is closed with code 4429' } }, (socket, req) => {
    const send = boundedSender(socket, 'events');
    const off = ctx.events.subscribe((ev) => {
      // Only the request's project's events its role may read; platform ones to admins and operators.
      if (!mayUse(req, 'event', ev.project)) return;
      if (!send(JSON.stringify(ev))) off();
    });
    socket.on('close', off);
  });

  app.get<{ Params: { name: string } }>(
    '/instances/:name/console',
    { websocket: true, config: { access: { action: 'write', resource: 'instance' } }, schema: { tags: ['instances'], summary: 'WebSocket to the serial console of a VM, or a login shell on a pty in a container (binary frames both ways)', params: Type.Object({ name: Name }) } },
    async (socket, req) => {
      const name = req.params.name;
      // Keystrokes may arrive while the console is looked up: keep them.
      const early = holdInput(socket);
      const rec = await ctx.instances.record(projectOf(req), name).catch(() => undefined);
      const handle = rec ? await ctx.instances.console(rec).catch(() => undefined) : undefined;
      if (handle?.kind === 'pty') {
        // No serial line (a container): the console is a login shell on a pty inside it.
        await relayChild(socket, async () => handle.child, early.release());
        return;
      }
      if (!handle) {
        socket.close(4404, `instance ${name} has no running console`);
        return;
      }
      const relay = handle.relay;
      // The guest's output cannot wait for one client: a client that falls behind is closed (the log keeps it all).
      const send = boundedSender(socket, 'console');
      send(relay.tail(16 * 1024));
      const off = relay.onData((chunk: Buffer) => {
        if (!send(chunk)) off();
      });
      // A keystroke while QEMU restarts (the relay reconnects) is lost, never thrown out of the socket's handler.
      const type = (data: Buffer) => {
        try {
          relay.write(data);
        } catch {
          /* not attached right now */
        }
      };
      for (const data of early.release()) type(data);
      socket.on('message', type);
      socket.on('close', off);
    },
  );

  app.get<{ Params: { name: string }; Querystring: { cmd: string | string[]; rows?: number; cols?: number } }>(
    '/instances/:name/exec',
    {
      websocket: true,
      config: { access: { action: 'write', resource: 'instance' } },
      schema: {
        tags: ['instances'],
        summary: 'WebSocket to a command on a pty in a container (binary frames both ways); closed with reason "exit N" when it ends',
        params: Type.Object({ name: Name }),
        querystring: Type.Object({
          cmd: Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String(), { minItems: 1, maxItems: 256 })], { description: 'the command and its arguments (repeat cmd=)' }),
          rows: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
          cols: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
        }),
      },
    },
    async (socket, req) => {
      const early = holdInput(socket);
      const rec = await ctx.instances.record(projectOf(req), req.params.name).catch(() => undefined);
      if (!rec) {
        socket.close(4404, `no container ${req.params.name}`);
        return;
      }
      const { cmd, rows, cols } = req.query;
      const args = Array.isArray(cmd) ? cmd : [cmd];
      await relayChild(socket, () => ctx.instanceExec.execTty(rec, args, { ...(rows ? { rows } : {}), ...(cols ? { cols } : {}) }), early.release());
    },
  );

  app.get<{ Params: { name: string }; Querystring: { bytes?: number } }>(
    '/instances/:name/console/log',
    {
      config: { access: { action: 'read', resource: 'instance' } },
      schema: {
        tags: ['instances'],
        summary: 'Recent serial console output (text)',
        params: Type.Object({ name: Name }),
        querystring: Type.Object({ bytes: Type.Optional(Type.Integer({ minimum: 1, maximum: 1048576 })) }, { additionalProperties: false }),
      },
    },
    async (req, reply) => {
      const rec = await ctx.instances.record(projectOf(req), req.params.name);
      reply.type('text/plain; charset=utf-8');
      return ctx.instances.consoleLog(rec, req.query.bytes ?? 65536);
    },
  );
}

/** Keep a socket's input from now on until release(), which stops keeping and returns what came. */
function holdInput(socket: WebSocket): { release(): Buffer[] } {
  const kept: Buffer[] = [];
  const keep = (data: Buffer) => kept.push(data);
  socket.on('message', keep);
  return {
    release: () => {
      socket.off('message', keep);
      return kept;
    },
  };
}

/** Relay a pty child over a WebSocket: output as binary frames, frames as input; its end closes the socket with "exit N". */
async function relayChild(socket: WebSocket, spawnChild: () => Promise<ChildProcess>, early: Buffer[] = []): Promise<void> {
  // Input may arrive while the child starts: keep it (after what came before) until the child can take it.
  let child: ChildProcess | undefined;
  let closed = false;
  socket.on('message', (data: Buffer) => (child ? child.stdin?.write(data) : early.push(data)));
  socket.on('close', () => {
    closed = true;
    child?.kill('SIGHUP');
  });
  try {
    child = await spawnChild();
    const c = child;
    // The command waits (its pty fills) while the client lags, rather than the daemon queueing its output.
    if (c.stdout) pipeToSocket(c.stdout, socket);
    c.on('exit', (code, signal) => socket.close(1000, `exit ${code ?? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0)}`));
    for (const data of early.splice(0)) c.stdin?.write(data);
    if (closed) c.kill('SIGHUP');
  } catch (e) {
    socket.close(4409, (e instanceof Error ? e.message : String(e)).slice(0, 120));
  }
}
