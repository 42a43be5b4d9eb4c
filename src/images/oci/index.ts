/** Application-container images: OCI layouts and docker archives (issue 5). */
export { detectOciSource, unpackOciImage, hostArchitecture, staleUnpackDirs } from './unpack.js';
export type { OciSource, OciSourceKind, OciUnpacked, UidShift, UnpackOciOptions } from './unpack.js';
export { parseImageConfig, resolveProcess, readUserDb, readFileInRoot, parsePasswd, parseGroup, DEFAULT_PATH } from './config.js';
export type { OciImageConfig, ProcessOverrides, ResolvedProcess } from './config.js';
export { normalizeImageRef } from './layout.js';
