import Database from 'better-sqlite3';

/**
 * The values under a key prefix of a state database, opened read-only (no migration, no WAL
 * checkpoint, no lock beyond the read): for tools that inspect a daemon's state while it may be
 * stopped or broken (uninstall). Rows whose JSON does not parse are skipped.
 */
export function readValuesReadOnly<T>(dbPath: string, keyPrefix: string): T[] {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare("SELECT value FROM kv WHERE key >= ? AND key < ? || char(1114111) ORDER BY key").all(keyPrefix, keyPrefix) as { value: string }[];
    const out: T[] = [];
    for (const r of rows) {
      try {
        out.push(JSON.parse(r.value) as T);
      } catch {
        /* a damaged row: skip it */
      }
    }
    return out;
  } finally {
    db.close();
  }
}
