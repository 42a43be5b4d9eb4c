// The image tree cache: an image's disk extracted once into a read-only tree that container roots
// (drivers/compute/runc/rootfs) are made from.
export {
  extractImageTree, imageTreeDir, imageTreeRoot, pickRootRegion, readOnlyMountOptions,
  type ImageDisk, type ImageTree, type RootRegion,
} from './extract.js';
