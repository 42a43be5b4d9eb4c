// System container roots from VM images: image disk → cached tree → per-container overlay
// over an idmapped image tree (or shifted with metacopy), plus the seed as a directory.
export {
  extractImageTree, imageTreeDir, imageTreeRoot, pickRootRegion, readOnlyMountOptions,
  type ImageDisk, type ImageTree, type RootRegion,
} from './extract.js';
export {
  checkReshift, checkShift, ensureContainerRoot, retargetContainerRoot, isContainerRootMounted, makeContainerRoot, overlayMountOptions, parseMountinfo,
  readMounts, removeContainerRoot, ROOT_LAYOUT, shiftId, shiftTree, unmountContainerRoot,
  type ContainerRoot, type ContainerRootMode, type ContainerRootOptions, type ContainerRootState, type IdShift,
  type MountInfo,
} from './container-root.js';
export { CONTAINER_CONSOLE, CONTAINER_SEED_DIR, renderSeedDir, type SeedDirOwner } from './seed-dir.js';
export { MountHelper, mountHelper } from './mount-helper.js';
