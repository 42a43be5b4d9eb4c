import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ErrorBody, Name, Operation } from '../shared/api-types.js';
import { VpsAction } from '../shared/vps-action-types.js';
import { accepted, type ApiContext } from './context.js';
import { projectOf } from './request-project.js';

/** POST /api/v1/instances/{name}/actions: VPS actions, each an Operation. */
export async function vpsActionRoutes(app: FastifyInstance, ctx: ApiContext) {
  app.post<{ Params: { name: string }; Body: VpsAction }>(
    '/instances/:name/actions',
    {
      config: { access: { action: 'write', resource: 'instance' } },
      schema: {
        tags: ['instances'],
        summary: 'A VPS action: reboot, shutdown, power_off, power_cycle, rename, rebuild, rescue, unrescue, resize, password_reset, ssh_keys',
        description:
          'The body is `{ type, ...arguments of that type }`; an argument of another type is 400. Each action is an Operation (202); ' +
          'its result says what was done and whether it applies now or at the next boot. ' +
          'reboot/shutdown take `timeout` (seconds of graceful stop before a hard stop); power_off and power_cycle are hard. ' +
          'rename takes `name`. rebuild takes `image`: a new root disk from it, keeping UUID, name, NICs, addresses, keys and volumes ' +
          '(409 while the instance has snapshots). rescue takes an optional `image` (default tiny) and boots it with the instance\'s own ' +
          'root as its second disk (VMs only: 409 for drivers whose root is a filesystem); unrescue boots its own root again. ' +
          'resize takes `plan`, or `vcpus`, `memoryMiB`, `diskGiB`: the disk grows online, a smaller disk is 400; a running VM grows CPUs and ' +
          'memory live (hot-add) up to the maxCpus/maxMemory set at launch (past it: 400), a shrink while running or a driver without ' +
          'live resize is 409 (stop it first). password_reset takes `password` (kept as a SHA-512 crypt hash; applies at the next boot); ' +
          'ssh_keys takes `keys` (replace the old ones; at once inside a running container, else at the next boot).',
        params: Type.Object({ name: Name }),
        body: VpsAction,
        response: { 202: Type.Object({ operation: Operation }), 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (req, reply) => accepted(reply, await ctx.vpsActions.act(projectOf(req), req.params.name, req.body)),
  );
}
