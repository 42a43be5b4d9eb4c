// System container roots from VM images: image disk → cached tree → per-container overlay
// (metacopy) shifted to the container's id range, plus the seed as a directory.
export {
  extractImageTree, imageTreeDir, imageTreeRoot, pickRootRegion, readOnlyMountOptions,
  type ImageDisk, type ImageTree, type RootRegion,
} from './extract.js';
export {
  checkShift, ensureContainerRoot, isContainerRootMounted, makeContainerRoot, overlayMountOptions, parseMountinfo,
  readMounts, removeContainerRoot, ROOT_LAYOUT, shiftId, shiftTree, unmountContainerRoot,
  type ContainerRoot, type ContainerRootMode, type ContainerRootOptions, type ContainerRootState, type IdShift,
  type MountInfo,
} from './container-root.js';
export { CONTAINER_SEED_DIR, renderSeedDir, type SeedDirOwner } from './seed-dir.js';
