import type { BuildOptions, BuiltImage } from './types.js';
/** placeholder */
export async function buildDebian12Image(_o: BuildOptions): Promise<BuiltImage> { throw new Error('todo'); }
