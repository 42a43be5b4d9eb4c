/** Instance labels: free KEY=VALUE pairs set at launch, shown in the Instance, for filtering lists. */
import { invalid } from '../lib/errors.js';

/** Most labels one instance carries. */
export const MAX_LABELS = 64;
const KEY = /^[a-z0-9]([a-z0-9._/-]{0,61}[a-z0-9])?$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Check labels (keys: 1-63 of a-z 0-9 . _ / -, starting and ending alphanumeric; values: up to 255, no control characters); a copy. */
export function validateLabels(labels: Record<string, string> | undefined): Record<string, string> | undefined {
  if (labels === undefined) return undefined;
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS) throw invalid(`at most ${MAX_LABELS} labels, not ${entries.length}`);
  for (const [k, v] of entries) {
    if (!KEY.test(k)) throw invalid(`label key ${JSON.stringify(k)} is invalid: 1-63 lower-case letters, digits, ".", "_", "/" or "-", starting and ending with a letter or digit`);
    if (typeof v !== 'string' || v.length > 255 || CONTROL.test(v)) throw invalid(`label ${k}: the value must be text of at most 255 characters without control characters`);
  }
  return entries.length > 0 ? Object.fromEntries(entries) : undefined;
}
