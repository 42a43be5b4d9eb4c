// Image references: NAME, or REMOTE:NAME for an image of an image remote (another nimbod's image server).
import { invalid } from './errors.js';
import { NAME_PATTERN } from './validate.js';

const NAME_RE = new RegExp(NAME_PATTERN);

/** The parts of an image reference; InvalidArgument when either part is not a valid name. Pure. */
export function parseImageRef(ref: string): { remote?: string; image: string } {
  const i = typeof ref === 'string' ? ref.indexOf(':') : -1;
  const [remote, image] = i < 0 ? [undefined, ref] : [ref.slice(0, i), ref.slice(i + 1)];
  if (remote !== undefined && !NAME_RE.test(remote)) throw invalid(`image remote ${JSON.stringify(remote)} in ${JSON.stringify(ref)} is not a valid name (REMOTE:IMAGE)`);
  if (typeof image !== 'string' || !NAME_RE.test(image)) {
    throw invalid(`image name ${JSON.stringify(image)} is not valid: use 1-63 lower-case letters, digits and '-', starting with a letter and not ending with '-' (or REMOTE:NAME for an image of an image remote)`);
  }
  return remote === undefined ? { image } : { remote, image };
}

/** Whether `ref` names an image of a remote (REMOTE:NAME). Pure. */
export function isRemoteRef(ref: string): boolean {
  return typeof ref === 'string' && ref.includes(':');
}
