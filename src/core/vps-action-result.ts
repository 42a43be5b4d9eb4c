import type { VpsActionResult, VpsActionType } from '../shared/vps-action-types.js';
import type { InstanceRecord } from './instance-record.js';
import type { InstanceViews } from './instance-view.js';

/** The Operation result of a VPS action: what was done, when it applies in the guest, the instance after it. */
export async function actionResult(views: Pick<InstanceViews, 'view'>, type: VpsActionType, applies: VpsActionResult['applies'], message: string, rec: InstanceRecord): Promise<VpsActionResult> {
  return { type, applies, message, instance: await views.view(rec) };
}
