import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ErrorBody, Instance, InstancePatch, Name } from '../shared/api-types.js';
import { InstanceUpdate } from '../core/instance-update.js';
import { StoreLocks } from '../core/locks.js';
import { legacyHostIds } from '../core/host-ids.js';
import { lockTarget } from '../store/keys.js';
import type { ApiContext } from './context.js';
import { projectOf } from './request-project.js';

/** PATCH /api/v1/instances/{name}: rename, description, labels, autostart; CPUs and memory while stopped. */
export async function instancePatchRoutes(app: FastifyInstance, ctx: ApiContext) {
  // The daemon's (it charges quotas); else one made from ports read when a request comes (tests).
  let made: InstanceUpdate | undefined;
  const update = (): InstanceUpdate => ctx.instanceUpdate ?? (made ??= new InstanceUpdate({
    store: ctx.store,
    locks: new StoreLocks(ctx.store),
    refreshNetwork: (project, net) => ctx.network.refreshReservations(project, net),
    applyFirewall: () => ctx.firewall.apply(),
    publish: (type, target, data, project) => ctx.events.publish(type, target, data, project),
    legacyHostIds: (name) => legacyHostIds(ctx.paths, ctx.config.prefix, name),
    // The UUID lock is what instance operations take; the name too while some still lock by name.
    lockTargets: (rec) => [lockTarget.instance(rec.uuid)],
    log: ctx.log,
    get daemonId() {
      return ctx.ops.daemonId;
    },
  }));
  app.patch<{ Params: { name: string }; Body: InstancePatch }>(
    '/instances/:name',
    {
      config: { access: { action: 'write', resource: 'instance' } },
      schema: {
        tags: ['instances'],
        summary: 'Change an instance: rename it, its description, labels, autostart; CPUs and memory while it is stopped',
        description:
          'Answers the updated instance. A rename waits up to 5 s for an operation on the instance (else 409), then moves the record and everything ' +
          'that names it (snapshots, addresses, volume attachments, forwards) at once; the running instance is not touched and its DNS name follows. ' +
          'A name that is taken is 409; cpus or memory of an instance that is not stopped is 409; more cpus or memory than the project\'s quota leaves is 403.',
        params: Type.Object({ name: Name }),
        body: InstancePatch,
        response: { 200: Instance, 400: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (req) => ctx.instances.view(await update().patch(projectOf(req), req.params.name, req.body)),
  );
}
