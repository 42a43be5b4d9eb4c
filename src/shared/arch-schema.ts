import { Type } from '@sinclair/typebox';
import { GUEST_ARCHES } from './arch-types.js';

/** A guest CPU architecture on the wire. */
export const Arch = Type.Union(GUEST_ARCHES.map((a) => Type.Literal(a)), { description: 'guest CPU architecture: x86_64, aarch64 (arm64) or riscv64' });
