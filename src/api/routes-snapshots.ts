import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ErrorBody, Name, Operation } from '../shared/api-types.js';
import { InstanceSnapshot, InstanceSnapshotCreate, SnapshotScheduleSet } from '../shared/storage-types.js';
import { parseCron } from '../lib/cron.js';
import { invalid, notFound } from '../lib/errors.js';
import { scheduleView } from '../core/snapshot-scheduler.js';
import { InstanceSnapshots } from '../core/instance-snapshots.js';
import { accepted, type ApiContext } from './context.js';
import { PAGED, PageQuery, byCreation, listPage, pageOfSchema, type PageParams } from './paging.js';
import { projectOf } from './request-project.js';

const Accepted = Type.Object({ operation: Operation });
const errors = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody };
const N = Type.Object({ name: Name });
const NS = Type.Object({ name: Name, snapshot: Name });
const tags = ['instances'];
const Schedule = Type.Object({ cron: Type.String(), expiry: Type.Optional(Type.String()), stateful: Type.Optional(Type.Boolean()), lastRun: Type.String(), nextRun: Type.Optional(Type.String()) });

/** /api/v1/instances/{name}/snapshots and the snapshot schedule. */
export async function snapshotRoutes(app: FastifyInstance, ctx: ApiContext) {
  const snaps = ctx.snapshots;
  app.get<{ Params: { name: string }; Querystring: PageParams }>('/instances/:name/snapshots', { config: { access: { action: 'read', resource: 'snapshot' } }, schema: { tags, summary: `List an instance's snapshots, oldest first,${PAGED}`, params: N, querystring: PageQuery, response: { 200: pageOfSchema('snapshots', InstanceSnapshot), ...errors } } }, async (req) =>
    listPage('snapshots', await snaps.list(projectOf(req), req.params.name), byCreation, req.query, (s) => s),
  );
  app.post<{ Params: { name: string }; Body: InstanceSnapshotCreate }>(
    '/instances/:name/snapshots',
    { config: { access: { action: 'write', resource: 'snapshot' } }, schema: { tags, summary: 'Snapshot all disks of a VM (stateful: with RAM, for a running VM) or all volumes of a container (frozen meanwhile)', params: N, body: InstanceSnapshotCreate, response: { 202: Accepted, ...errors } } },
    async (req, reply) => {
      const b = req.body ?? {};
      const expiresAt = b.expiry ? new Date(Date.now() + InstanceSnapshots.parseDuration(b.expiry)).toISOString() : undefined;
      return accepted(reply, await snaps.create(projectOf(req), req.params.name, { name: b.name, stateful: b.stateful, expiresAt }));
    },
  );
  app.post<{ Params: { name: string; snapshot: string } }>(
    '/instances/:name/snapshots/:snapshot/restore',
    { config: { access: { action: 'write', resource: 'snapshot' } }, schema: { tags, summary: 'Restore a snapshot (stateful: the VM comes back running where it was; others need the instance stopped)', params: NS, response: { 202: Accepted, ...errors } } },
    async (req, reply) => accepted(reply, await snaps.restore(projectOf(req), req.params.name, req.params.snapshot)),
  );
  app.delete<{ Params: { name: string; snapshot: string } }>(
    '/instances/:name/snapshots/:snapshot',
    { config: { access: { action: 'write', resource: 'snapshot' } }, schema: { tags, summary: 'Delete a snapshot', params: NS, response: { 202: Accepted, ...errors } } },
    async (req, reply) => accepted(reply, await snaps.remove(projectOf(req), req.params.name, req.params.snapshot)),
  );
  app.get<{ Params: { name: string } }>(
    '/instances/:name/snapshot-schedule',
    { config: { access: { action: 'read', resource: 'snapshot' } }, schema: { tags, summary: 'Show the scheduled snapshots of an instance, with the next run (404 when none is set)', params: N, response: { 200: Schedule, ...errors } } },
    async (req) => {
      const sched = (await ctx.instances.record(projectOf(req), req.params.name)).snapshotSchedule;
      if (!sched) throw notFound(`snapshot schedule of ${req.params.name}`);
      return scheduleView(sched);
    },
  );
  app.put<{ Params: { name: string }; Body: SnapshotScheduleSet }>(
    '/instances/:name/snapshot-schedule',
    { config: { access: { action: 'write', resource: 'snapshot' } }, schema: { tags, summary: 'Set the scheduled snapshots of an instance (cron, expiry)', params: N, body: SnapshotScheduleSet, response: { 200: Schedule, ...errors } } },
    async (req) => {
      parseCron(req.body.cron);
      if (req.body.stateful && !ctx.instances.capabilities(await ctx.instances.record(projectOf(req), req.params.name)).statefulSnapshots) {
        throw invalid(`${req.params.name} is a container: containers have no stateful snapshots (no CRIU); drop --stateful`);
      }
      const schedule = { ...req.body, lastRun: new Date().toISOString() };
      await ctx.instances.patch(projectOf(req), req.params.name, { snapshotSchedule: schedule });
      return scheduleView(schedule);
    },
  );
  app.delete<{ Params: { name: string } }>(
    '/instances/:name/snapshot-schedule',
    { config: { access: { action: 'write', resource: 'snapshot' } }, schema: { tags, summary: 'Stop scheduled snapshots (existing ones keep their expiry)', params: N, response: { 204: Type.Null(), ...errors } } },
    async (req, reply) => {
      await ctx.instances.patch(projectOf(req), req.params.name, { snapshotSchedule: undefined });
      return reply.code(204).send();
    },
  );
}
