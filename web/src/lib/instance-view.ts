// Pure helpers of the instance pages: search and filters of the list, live patches from events, the create body.
import type { Image, Instance, InstanceCreate, Event } from '../../../src/shared/api-types.js';

/** The list's filters: free text (name, image, address, plan, label), type and state ('' = any). */
export interface InstanceFilter {
  search: string;
  type: '' | 'vm' | 'container';
  state: string;
}

/** The instances that match `f`, in name order. */
export function filterInstances(list: readonly Instance[], f: InstanceFilter): Instance[] {
  const words = f.search.toLowerCase().split(/\s+/).filter(Boolean);
  return list
    .filter((i) => (!f.type || i.type === f.type) && (!f.state || i.state === f.state))
    .filter((i) => {
      if (!words.length) return true;
      const hay = [i.name, i.image, i.plan ?? '', i.description, ...i.addresses, ...Object.entries(i.labels ?? {}).map(([k, v]) => `${k}=${v}`)].join(' ').toLowerCase();
      return words.every((w) => hay.includes(w));
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Apply an instance event to the list: a deleted one goes, a known one takes the event's state.
 * `reload` says the list should be read again (a new or renamed instance, or details the event lacks).
 */
export function applyInstanceEvent(list: readonly Instance[], ev: Event): { rows: Instance[]; reload: boolean } {
  if (ev.type !== 'instance') return { rows: [...list], reload: false };
  const data = (ev.data ?? {}) as { state?: string; renamedTo?: string; renamedFrom?: string };
  if (data.state === 'deleted') return { rows: list.filter((i) => i.name !== ev.target), reload: data.renamedTo !== undefined };
  const known = list.some((i) => i.name === ev.target);
  const rows = list.map((i) => (i.name === ev.target && data.state ? { ...i, state: data.state as Instance['state'] } : i));
  return { rows, reload: !known || data.state === 'running' };
}

/** The create wizard's fields as typed. */
export interface CreateForm {
  name: string;
  type: 'vm' | 'container';
  image: string;
  plan: string;
  cpus: string;
  memory: string;
  disk: string;
  sshKey: string;
  network: string;
  securityGroups: string[];
  userData: string;
  /** VMs: bios (the API's default) or uefi; Secure Boot only with uefi. */
  firmware?: 'bios' | 'uefi';
  secureBoot?: boolean;
  tpm?: boolean;
  /** VMs: hot-add room (empty: none). */
  maxCpus?: string;
  maxMemory?: string;
  /** VMs: the guest CPU architecture ('' or absent: the image's). */
  arch?: '' | NonNullable<InstanceCreate['arch']>;
  /** VMs: install from an ISO image (image is of type iso; disk is the empty root's size; no SSH key or user-data). */
  iso?: boolean;
}

/** The body of POST /instances from the wizard's fields: only what was given (the API fills defaults and checks the rest). */
export function createBody(f: CreateForm): InstanceCreate {
  const body: InstanceCreate = { name: f.name.trim(), image: f.image, type: f.type };
  if (f.plan && f.plan !== 'none') body.plan = f.plan;
  else {
    if (f.cpus.trim()) body.cpus = Number(f.cpus.trim());
    if (f.memory.trim()) body.memory = sizeText(f.memory, 'MiB');
    if (f.disk.trim()) body.disk = sizeText(f.disk, 'GiB');
  }
  const iso = f.type === 'vm' && f.iso === true;
  const keys = f.sshKey.split('\n').map((k) => k.trim()).filter(Boolean);
  if (keys.length && !iso) body.sshKeys = keys;
  if (f.network || f.securityGroups.length) body.nics = [{ network: f.network || 'default', ...(f.securityGroups.length ? { securityGroups: f.securityGroups } : {}) }];
  if (f.userData.trim() && !iso) body.userData = f.userData;
  if (f.type === 'vm') {
    if (iso) body.iso = true;
    if (f.arch) body.arch = f.arch;
    if (f.firmware === 'uefi') {
      body.firmware = 'uefi';
      if (f.secureBoot) body.secureBoot = true;
    }
    if (f.tpm) body.tpm = true;
    if (f.maxCpus?.trim()) body.maxCpus = Number(f.maxCpus.trim());
    if (f.maxMemory?.trim()) body.maxMemory = sizeText(f.maxMemory, 'MiB');
  }
  return body;
}

/** The images the wizard offers: ready ones; ISO images for an install from ISO, the others (never an ISO) else. */
export function wizardImages(list: readonly Image[], iso: boolean): Image[] {
  return list.filter((i) => i.status === 'ready' && ((i.type ?? 'disk') === 'iso') === iso);
}

/** A size field: a bare number is in `unit` (MiB for memory, GiB for disks, as people type them); anything else goes to the API as written. */
export function sizeText(text: string, unit: 'MiB' | 'GiB'): string {
  const t = text.trim();
  return /^\d+(\.\d+)?$/.test(t) ? `${t}${unit}` : t;
}

/** The instance's operations and events among recent ones: those whose target is the instance. */
export function targetsInstance(target: string, name: string): boolean {
  return target === name || target.startsWith(`${name}/`);
}

/** Console output as plain text: terminal escape sequences and control characters (but newlines and tabs) removed. */
export function plainText(log: string): string {
  // eslint-disable-next-line no-control-regex
  return log.replace(/\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[@-Z\\-_]/g, '').replace(/\r\n?/g, '\n').replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '');
}
