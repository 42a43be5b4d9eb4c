import { invalid } from '../../lib/errors.js';
import { checkUserData } from '../../images/seed-user-data.js';

/** The user-data fields of a launch request, checked (64 KiB, text); InvalidArgument for an application container. */
export function userDataOf(req: { userData?: string; vendorData?: string; app?: unknown }): { userData?: string; vendorData?: string } {
  if (req.userData === undefined && req.vendorData === undefined) return {};
  // An application container runs the image's process, not an init that reads a seed.
  if (req.app !== undefined) throw invalid('user-data and vendor-data are for VMs and system containers; an application container (app) runs no cloud-init');
  if (req.userData !== undefined) checkUserData('user-data', req.userData);
  if (req.vendorData !== undefined) checkUserData('vendor-data', req.vendorData);
  return { ...(req.userData !== undefined ? { userData: req.userData } : {}), ...(req.vendorData !== undefined ? { vendorData: req.vendorData } : {}) };
}
