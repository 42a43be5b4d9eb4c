import { conflict } from '../../../lib/errors.js';
import { QmpError, type QmpClient } from './qmp.js';
import { expectQmpEvent } from './qmp-wait.js';

/**
 * device_del a hot-plugged device and wait for the guest to release it (DEVICE_DELETED).
 * Returns true when the device was already gone. `what` names it in messages ("disk d1");
 * a device plugged at VM start (not hot-pluggable) is a Conflict with `coldMessage`.
 */
export async function unplugDevice(qmp: QmpClient, qdevId: string, what: string, timeoutMs: number, coldMessage: string): Promise<boolean> {
  const deleted = expectQmpEvent(qmp, (ev) => ev.event === 'DEVICE_DELETED' && ev.data?.device === qdevId, timeoutMs,
    `guest release of ${what} (device_del needs a guest that handles PCIe hot-unplug; the request stays pending)`);
  let gone = false;
  try {
    await qmp.execute('device_del', { id: qdevId });
  } catch (e) {
    if (e instanceof QmpError && e.qmpClass === 'DeviceNotFound') gone = true;
    else if (!(e instanceof QmpError && /already in the process of unplug/i.test(e.desc))) {
      deleted.cancel();
      if (e instanceof QmpError && /does not support hotplugging/i.test(e.desc)) throw conflict(coldMessage);
      throw e;
    }
  }
  if (gone) deleted.cancel();
  else await deleted.done;
  return gone;
}
