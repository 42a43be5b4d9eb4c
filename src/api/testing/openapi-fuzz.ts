// Test helper: hostile requests generated from an OpenAPI 3 document, one field of one route at a time.
// A request keeps every other field at a plausible valid value, so the hostile one is what gets judged.

/** A JSON schema as found in openapi.json (only what the generator reads). */
export interface Schema {
  $ref?: string;
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  default?: unknown;
}

/** One operation of the document. */
export interface FuzzRoute {
  method: string;
  path: string;
  params: { in: 'path' | 'query'; name: string; required: boolean; schema: Schema }[];
  body?: { type: string; schema: Schema };
}

/** A request to send, and what it tests (for failure messages). */
export interface FuzzRequest {
  method: string;
  url: string;
  /** JSON text (so keys like __proto__ travel as data), or bytes for non-JSON bodies. */
  payload?: string | Buffer;
  contentType?: string;
  what: string;
  /** true: the value may be legitimate content (free text), so acceptance is not a failure. */
  content: boolean;
}


/** Resolve a local $ref. */
export function deref(doc: { components?: { schemas?: Record<string, Schema> } }, s: Schema): Schema {
  let out = s;
  for (let i = 0; i < 10 && out.$ref; i++) out = doc.components?.schemas?.[out.$ref.replace('#/components/schemas/', '')] ?? {};
  if (out.allOf) out = Object.assign({}, ...out.allOf.map((x) => deref(doc, x)), { allOf: undefined });
  return out;
}

/** Every operation of the document (HEAD aside: Fastify adds it to GETs). */
export function routesOf(doc: any): FuzzRoute[] {
  const out: FuzzRoute[] = [];
  for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
    for (const [method, op] of Object.entries(ops)) {
      if (method === 'head' || method === 'parameters') continue;
      const params = (op.parameters ?? []).map((p: any) => ({ in: p.in, name: p.name, required: !!p.required, schema: deref(doc, p.schema ?? {}) }));
      const content = op.requestBody?.content as Record<string, { schema?: Schema }> | undefined;
      const type = content ? Object.keys(content)[0] : undefined;
      out.push({ method: method.toUpperCase(), path, params, ...(type ? { body: { type, schema: deref(doc, content![type]!.schema ?? {}) } } : {}) });
    }
  }
  return out;
}

/** Strings tried, in order, as a valid sample of a string schema with a pattern. */
const CANDIDATES = ['fzname', 'default', '/fz', 'FZ=1', '10.77.0.200', '10.99.0.0/24', 'fd99::/64', '0644', '1MiB', '80', 'tcp', 'in', 'a', '2026-12-31T00:00:00Z', '0 3 * * *', '1h', 'eth0'];

/** A plausible valid value of a schema (required properties only), or undefined when none is known. */
export function sample(doc: any, s0: Schema, depth = 0): unknown {
  const s = deref(doc, s0);
  if (depth > 8) return undefined;
  if (s.default !== undefined) return s.default;
  if (s.const !== undefined) return s.const;
  if (s.enum?.length) return s.enum[0];
  const alt = s.anyOf ?? s.oneOf;
  if (alt?.length) return sample(doc, alt[0]!, depth + 1);
  switch (s.type) {
    case 'object': {
      const o: Record<string, unknown> = {};
      for (const k of s.required ?? []) o[k] = sample(doc, s.properties?.[k] ?? {}, depth + 1);
      return o;
    }
    case 'array': {
      const n = s.minItems ?? 0;
      return Array.from({ length: n }, () => sample(doc, s.items ?? {}, depth + 1));
    }
    case 'integer':
    case 'number':
      return Math.max(s.minimum ?? 1, 1);
    case 'boolean':
      return false;
    case 'string': {
      const ok = (c: string) => (!s.pattern || new RegExp(s.pattern, 'u').test(c)) && c.length >= (s.minLength ?? 0) && c.length <= (s.maxLength ?? Infinity);
      return CANDIDATES.find(ok) ?? 'x'.repeat(Math.max(1, s.minLength ?? 1));
    }
    default:
      return undefined;
  }
}

/** Whether a string schema is free text: no pattern, format or enum says what it must look like. */
function freeText(s: Schema): boolean {
  return s.type === 'string' && !s.pattern && !s.format && !s.enum && s.const === undefined;
}

const MiB = 1024 * 1024;
/** An array nested `n` deep (JSON text is built, not a JS value: no recursion when it is stringified). */
const DEEP_ARRAY = '['.repeat(5000) + ']'.repeat(5000);
const DEEP_OBJECT = '{"a":'.repeat(5000) + '1' + '}'.repeat(5000);

/** A hostile value: JSON text of it, and whether it might be legitimate content. */
interface Hostile {
  json: string;
  label: string;
  content?: boolean;
}

const j = (v: unknown, label: string, content = false): Hostile => ({ json: JSON.stringify(v), label, content });

/** Hostile values for a field with schema `s`; `rand` adds a few random unicode strings. */
export function hostileValues(doc: any, s0: Schema, rand: () => number): Hostile[] {
  const s = deref(doc, s0);
  const branches = [s, ...(s.anyOf ?? s.oneOf ?? []).map((x) => deref(doc, x))];
  // OpenAPI 3.0 has no type null: @fastify/swagger writes a null branch as `nullable: true`.
  const types = new Set([...branches.map((b) => b.type), ...(branches.some((b) => (b as { nullable?: boolean }).nullable) ? ['null'] : [])].filter(Boolean));
  const free = freeText(s);
  const out: Hostile[] = [
    j(null, 'null', types.has('null')),
    { json: DEEP_ARRAY, label: 'arrays nested 5000 deep' },
    { json: DEEP_OBJECT, label: 'objects nested 5000 deep' },
    { json: '{"__proto__":{"polluted":true}}', label: '__proto__ object' },
    { json: '{"constructor":{"prototype":{"polluted":true}}}', label: 'constructor object' },
  ];
  if (!types.has('object')) out.push(j({ fzExtra: 1 }, 'object'));
  if (!types.has('array')) out.push(j(['x'], 'array'));
  if (!types.has('boolean')) out.push(j(true, 'boolean'));
  if (!types.has('string')) out.push(j('fz', 'string'), j('', 'empty string'), j('__proto__', '__proto__ string'));
  if (!types.has('integer') && !types.has('number') && !free) out.push(j(12345, 'number'));
  if (types.has('string')) {
    out.push(j('x'.repeat(MiB), '1 MiB string'));
    const structural: [unknown, string][] = [
      ['', 'empty string'], [' ', 'space'], ['a\u0000b', 'NUL'], ['\u202Eevil\u202C', 'RTL override'], ['../../etc/passwd', 'path traversal'],
      ['..', 'dot-dot'], ['%2e%2e%2f', 'encoded traversal'], ['\uD800', 'lone surrogate'], ['𝔘𝔫𝔦𝔠𝔬𝔡𝔢', 'astral unicode'],
      ['-1', 'negative number text'], ['1e309', 'overflowing number text'], ['NaN', 'NaN text'], ['__proto__', '__proto__ string'],
      ['constructor', 'constructor string'], ['999.1.1.1', 'bad IPv4'], ['10.0.0.1/33', 'bad prefix'], ['10.0.0.0/-1', 'negative prefix'],
      ['1.2.3', 'short IPv4'], ['0x7f.1', 'hex IPv4'], ['::gg', 'bad IPv6'], ['fd00::/129', 'bad IPv6 prefix'], ['-x', 'flag-like'], ['a'.repeat(300), '300 characters'],
    ];
    for (const [v, label] of structural) {
      // In free text these may be legitimate (a description can say "../../etc/passwd"): refusing is not required.
      const ok = (!s.pattern || !new RegExp(s.pattern, 'u').test(String(v))) && !(s.enum ?? []).includes(v);
      out.push(j(v, label, free || !ok));
    }
    for (let i = 0; i < 2; i++) {
      const n = 1 + Math.floor(rand() * 40);
      const str = Array.from({ length: n }, () => String.fromCodePoint(Math.floor(rand() * 0x10ffff) & ~0x800)).join('');
      out.push(j(str, `random unicode #${i}`, free));
    }
  }
  if (types.has('integer') || types.has('number')) {
    for (const [v, label] of [[-1, '-1'], [0, '0'], [1.5, 'float'], [-(2 ** 63), 'huge negative'], [2 ** 64, '2^64'], [1e308, '1e308'], [Number.MAX_SAFE_INTEGER + 2, 'unsafe integer']] as [number, string][]) {
      const inRange = v >= (s.minimum ?? -Infinity) && v <= (s.maximum ?? Infinity) && (s.type !== 'integer' || Number.isInteger(v));
      out.push(j(v, label, inRange));
    }
    out.push({ json: '1e999', label: 'infinite number' });
  }
  if (types.has('array')) out.push(j(Array.from({ length: 10_000 }, () => 'x'), '10000 items'), j([null, 1, {}, []], 'mixed items'));
  if (types.has('object')) out.push({ json: '{"fzExtra":1}', label: 'extra property' });
  return out;
}

/** The property paths of a body schema to fuzz (objects' properties, arrays' first item, maps' one key), at most `depth` deep. */
export function fieldPaths(doc: any, s0: Schema, depth = 4, prefix: (string | number)[] = []): { path: (string | number)[]; schema: Schema }[] {
  const s = deref(doc, s0);
  if (depth === 0) return [];
  const out: { path: (string | number)[]; schema: Schema }[] = [];
  const branches = [s, ...(s.anyOf ?? s.oneOf ?? []).map((x) => deref(doc, x))];
  for (const b of branches) {
    for (const [k, v] of Object.entries(b.properties ?? {})) {
      out.push({ path: [...prefix, k], schema: v });
      out.push(...fieldPaths(doc, v, depth - 1, [...prefix, k]));
    }
    if (b.type === 'array' && b.items) {
      out.push({ path: [...prefix, 0], schema: b.items });
      out.push(...fieldPaths(doc, b.items, depth - 1, [...prefix, 0]));
    }
    if (typeof b.additionalProperties === 'object') out.push({ path: [...prefix, 'fzkey'], schema: b.additionalProperties });
  }
  const seen = new Set<string>();
  return out.filter((f) => !seen.has(JSON.stringify(f.path)) && !!seen.add(JSON.stringify(f.path)));
}

const MARK = 'FZ\u0000MARK';

/** JSON text of `base` with the value at `path` replaced by the JSON text `json` (containers on the way are made). */
export function withValueAt(doc: any, schema: Schema, base: unknown, path: (string | number)[], json: string): string {
  if (path.length === 0) return json;
  const root = structuredClone(base ?? {}) as any;
  let cur = root;
  let s = deref(doc, schema);
  for (let i = 0; i < path.length - 1; i++) {
    const k = path[i]!;
    const next = typeof k === 'number' ? deref(doc, s.items ?? {}) : deref(doc, s.properties?.[k] ?? (typeof s.additionalProperties === 'object' ? s.additionalProperties : {}));
    if (cur[k] === undefined || cur[k] === null || typeof cur[k] !== 'object') {
      const smp = sample(doc, next);
      cur[k] = smp && typeof smp === 'object' ? smp : typeof path[i + 1] === 'number' ? [] : {};
    }
    cur = cur[k];
    s = next;
  }
  cur[path[path.length - 1]!] = MARK;
  return JSON.stringify(root).replace(JSON.stringify(MARK), () => json);
}
