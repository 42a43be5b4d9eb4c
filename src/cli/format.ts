/** Human-friendly formatting of sizes, ages and lists for tables. */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/** Bytes as a binary size: 536870912 → "512MiB", 1610612736 → "1.5GiB". */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return String(bytes);
  let i = 0;
  let v = bytes;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  const text = i === 0 ? String(Math.round(v)) : v.toFixed(1).replace(/\.0$/, '');
  return `${text}${UNITS[i]}`;
}

/** Time since an ISO date, short: "45s", "12m", "3h", "5d" ("-" when unparsable). */
export function formatAge(iso: string, now: number = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '-';
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/**
 * Text from the daemon made safe for one line of a terminal: line breaks and tabs become a space,
 * other control characters (ESC, BEL, C1, ...) a "?", so a name, description or host error message
 * cannot move the cursor, retitle the terminal or forge output lines in tables and details.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\r\n\t]+/g, ' ').replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

/** A list joined by ", " or "-" when empty. */
export function formatList(items: readonly string[] | undefined): string {
  return items && items.length > 0 ? items.join(', ') : '-';
}
