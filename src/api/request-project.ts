import type { FastifyRequest } from 'fastify';
import { DEFAULT_PROJECT } from '../store/keys.js';

/** The project a request runs in (set by the authorization hook from `?project=` or the principal). */
export function projectOf(req: FastifyRequest): string {
  return req.project ?? DEFAULT_PROJECT;
}
