const MiB = 1024 * 1024;

/** Virtual size of the tiny image's template disk. */
export const TINY_DISK_BYTES = 128 * MiB;
/** Virtual size of the debian-12 image's template disk. */
export const DEBIAN_DISK_BYTES = 2048 * MiB;
