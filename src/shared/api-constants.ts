/**
 * Plain constants of the API that both the TypeBox schemas (api-types.ts) and the CLI use.
 * Kept free of any schema library so that the CLI can load them without TypeBox (startup time).
 */

export { NAME_PATTERN } from '../lib/validate.js';
/** A size string: a number with an optional unit (512MiB, 2G, 10GiB); the Size schema's string form. */
export const SIZE_PATTERN = '^[0-9]+(\\.[0-9]+)?\\s*([KMGTP]i?B?|B)?$';
/** The instance actions of POST /api/v1/instances/{name}/{action}. */
export const ACTIONS = ['start', 'stop', 'restart', 'pause', 'resume'] as const;
/** One of ACTIONS. */
export type ActionName = (typeof ACTIONS)[number];
