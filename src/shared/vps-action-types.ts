// Wire types of VPS actions (POST /api/v1/instances/{name}/actions), in the style of DigitalOcean's and
// Hetzner's droplet/server actions: one body with a `type` and that type's arguments.
import { Type, type Static } from '@sinclair/typebox';
import { Name } from './api-types.js';

/** Every VPS action type. */
export const VPS_ACTION_TYPES = [
  'reboot', 'shutdown', 'power_off', 'power_cycle', 'rename', 'rebuild', 'rescue', 'unrescue', 'resize', 'password_reset', 'ssh_keys',
] as const;
/** One VPS action type. */
export type VpsActionType = (typeof VPS_ACTION_TYPES)[number];

/** Most SSH keys one ssh_keys action sets, and the longest key line. */
export const MAX_SSH_KEYS = 64;
export const MAX_SSH_KEY_CHARS = 16384;

/** Body of POST /instances/{name}/actions: `type` plus the arguments of that type (others are refused). */
export const VpsAction = Type.Object(
  {
    type: Type.Union(VPS_ACTION_TYPES.map((t) => Type.Literal(t))),
    timeout: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600, description: 'reboot, shutdown: seconds of graceful stop before a hard stop (default 30)' })),
    name: Type.Optional(Name),
    image: Type.Optional(Type.String({ pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$', minLength: 1, maxLength: 63, description: 'rebuild: the image (required); rescue: the rescue image (default tiny)' })),
    plan: Type.Optional(Name),
    vcpus: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
    memoryMiB: Type.Optional(Type.Integer({ minimum: 64, maximum: 256 * 1024 })),
    diskGiB: Type.Optional(Type.Integer({ minimum: 1, maximum: 16 * 1024 })),
    password: Type.Optional(Type.String({ minLength: 8, maxLength: 256, description: "password_reset: root's new password (kept only as a SHA-512 crypt hash)" })),
    keys: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: MAX_SSH_KEY_CHARS }), { maxItems: MAX_SSH_KEYS, description: 'ssh_keys: the new authorized keys (replace the old ones)' })),
  },
  { additionalProperties: false },
);
/** A VPS action request. */
export type VpsAction = Static<typeof VpsAction>;

/** What a finished VPS action's Operation carries as its result. */
export interface VpsActionResult {
  type: VpsActionType;
  /** When the change takes effect inside the guest: now, or at its next boot. */
  applies: 'now' | 'next-boot';
  /** One sentence on what was done. */
  message: string;
  instance: unknown;
}
