// Launches from an ISO image (launch --iso): which requests are refused before anything is made.
import type { InstanceCreate } from '../shared/api-types.js';
import type { InstanceKind } from '../drivers/compute/instance-driver.js';
import { invalid } from '../lib/errors.js';

/** The root disk of a VM installed from an ISO when the request names no size. */
export const ISO_DISK_DEFAULT = 8 * 1024 ** 3;

/**
 * Throws InvalidArgument when the request and its image disagree: an ISO launched as a disk image (without
 * --iso), a disk image given as the ISO, or --iso with a container or an application. Pure.
 */
export function checkIsoLaunch(req: Pick<InstanceCreate, 'image' | 'iso' | 'app' | 'type'>, img: { iso?: boolean; oci?: unknown; pending: boolean }, kind: InstanceKind): void {
  if (req.iso) {
    if (kind !== 'vm' || req.app !== undefined) throw invalid('--iso installs a VM from an ISO image; containers and applications start from their image');
    if (img.pending || !img.iso) {
      throw invalid(`image ${req.image} is ${img.oci ? 'an OCI application image' : 'a disk image'}, not an ISO: launch it without --iso (an ISO image is made by importing or uploading an ISO 9660 file)`);
    }
  } else if (img.iso) {
    throw invalid(`image ${req.image} is an ISO (an installer CD), not a disk image: launch it with --iso, which installs onto an empty disk (--disk, default 8GiB)`);
  }
}
