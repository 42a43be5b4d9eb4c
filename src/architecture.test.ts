// The layers of docs/architecture.md, checked on the sources: imports (type-only and dynamic ones too)
// point down only, src/lib imports nothing else from src, drivers never import images, and no files
// import each other in a circle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');

/** Rank of each top-level folder of src: a file may import its own rank or lower ones. */
const RANK: Record<string, number> = { lib: 0, shared: 0, host: 1, store: 2, drivers: 3, images: 3, backup: 4, core: 5, api: 6, daemon: 7, cli: 7, docs: 8 };


const IMPORT = /^\s*(?:import|export)\b[^'"]*?from\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]/gm;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Every file's imports of other files of src, as paths relative to src. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources(SRC)) {
    const deps = new Set<string>();
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const spec = (m[1] ?? m[2])!;
      let target = normalize(join(dirname(file), spec)).replace(/\.js$/, '.ts');
      if (!target.endsWith('.ts')) target = existsSync(`${target}.ts`) ? `${target}.ts` : join(target, 'index.ts');
      if (existsSync(target)) deps.add(relative(SRC, target));
    }
    graph.set(relative(SRC, file), [...deps]);
  }
  return graph;
}

/** Strongly connected components with more than one file (Tarjan), each as sorted names. */
function cycles(graph: Map<string, string[]>): string[] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[] = [];
  let n = 0;
  const visit = (v: string) => {
    index.set(v, n);
    low.set(v, n++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.sort().join(' '));
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out.sort();
}

const graph = importGraph();
const layer = (f: string) => f.split('/')[0]!;

test('the graph is read from the sources (a check that sees nothing cannot fail)', () => {
  assert.ok(graph.size > 200, `${graph.size} files`);
  assert.ok(graph.get('core/instance-service.ts')?.includes('lib/errors.ts'), 'instance-service imports lib/errors');
  assert.ok(graph.get('cli/command-table.ts')?.some((d) => d.startsWith('cli/commands/')), 'dynamic imports count');
});

test('every top-level folder of src has a layer', () => {
  const folders = [...new Set([...graph.keys()].filter((f) => f.includes('/')).map(layer))];
  assert.deepEqual(folders.filter((f) => RANK[f] === undefined), []);
});

test('imports point down the layers only; lib imports nothing else from src; drivers never import images', () => {
  const bad: string[] = [];
  for (const [file, deps] of graph) {
    const a = layer(file);
    for (const dep of deps) {
      const b = layer(dep);
      if (a === 'lib' && b !== 'lib') bad.push(`${file} -> ${dep} (lib imports only lib)`);
      else if (a === 'drivers' && b === 'images') bad.push(`${file} -> ${dep} (drivers never import images)`);
      else if ((RANK[b] ?? 0) > (RANK[a] ?? 0)) bad.push(`${file} -> ${dep} (upward)`);
    }
  }
  assert.deepEqual(bad, []);
});

test('no files import each other in a circle', () => {
  assert.deepEqual(cycles(graph), []);
});
