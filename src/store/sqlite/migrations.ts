/** Ordered SQLite schema migrations; index + 1 is the schema version each one reaches. */
export const MIGRATIONS: string[] = [
  `CREATE TABLE kv (
     key TEXT PRIMARY KEY,
     value TEXT NOT NULL,
     create_rev INTEGER NOT NULL,
     mod_rev INTEGER NOT NULL,
     version INTEGER NOT NULL
   );
   CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
   INSERT INTO meta (k, v) VALUES ('revision', '0');`,
];
