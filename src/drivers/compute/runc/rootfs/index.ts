// System container roots: a per-container overlay over an idmapped image tree (or shifted with
// metacopy), the seed as a directory, and the mount helper that works inside a container's root.
export {
  checkReshift, checkShift, ensureContainerRoot, retargetContainerRoot, isContainerRootMounted, makeContainerRoot, overlayMountOptions, parseMountinfo,
  readMounts, removeContainerRoot, ROOT_LAYOUT, shiftId, shiftTree, unmountContainerRoot,
  type ContainerRoot, type ContainerRootMode, type ContainerRootOptions, type ContainerRootState, type IdShift,
  type MountInfo,
} from './container-root.js';
export { CONTAINER_CONSOLE, CONTAINER_SEED_DIR, renderSeedDir, type SeedDirOwner } from './seed-dir.js';
export { MountHelper, mountHelper } from './mount-helper.js';
