// Bundles the CLI (dist/src/cli/main.js and the CLI modules it reaches, with commander) into one file beside it,
// dist/src/cli/nimbo-body.cjs, with a V8 code cache, run by dist/src/cli/nimbo.cjs (scripts/cli-loader.cjs), which
// ./nimbo runs: one precompiled file starts faster than twenty ES modules. Run after tsc. Other packages
// (ws, yaml, ...) and the daemon's code stay separate files, loaded only by the commands that use them.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cliDir = join(root, 'dist/src/cli');
const srcDir = join(root, 'dist/src');
// Project code is inlined, except what CLI code imports dynamically from outside src/cli and src/shared (the
// daemon, which `nimbo daemon` loads): that stays a separate ES module, loaded only by the command that needs it.
// A static import always inlines (a CommonJS bundle could not require() an ES module file).
const cliCode = [join(srcDir, 'cli') + '/', join(srcDir, 'shared') + '/'];
const commander = join(root, 'node_modules/commander') + '/';

const keepOut = {
  name: 'keep-out',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind === 'entry-point') return undefined;
      if (!args.path.startsWith('.')) {
        // Bare names: commander is inlined (every command needs it); other packages stay in node_modules.
        return args.path === 'commander' ? undefined : { path: args.path, external: true };
      }
      const abs = resolve(args.resolveDir, args.path);
      if (abs.startsWith(commander) || args.kind !== 'dynamic-import' || cliCode.some((d) => abs.startsWith(d))) return undefined;
      // Rewritten relative to the bundle, which sits in dist/src/cli like main.js.
      const rel = relative(cliDir, abs);
      return { path: rel.startsWith('.') ? rel : `./${rel}`, external: true };
    });
  },
};

for (const f of readdirSync(cliDir)) if (/^nimbo(-chunk-.*|-body)?\.(js|mjs|cjs)(\.cache)?$/.test(f)) rmSync(join(cliDir, f));
const body = join(cliDir, 'nimbo-body.cjs');
const result = await build({
  entryPoints: [join(cliDir, 'main.js')],
  // CommonJS, so that a lazily imported module's own imports (node:tls, ...) stay lazy: in an ES module bundle
  // esbuild hoists them all to the top, and they would load on every start.
  outfile: body,
  format: 'cjs',
  bundle: true,
  platform: 'node',
  target: 'node20',
  plugins: [keepOut],
  define: { 'import.meta.url': '__nimboUrl' },
  banner: { js: "const __nimboUrl = require('node:url').pathToFileURL(__filename).href;" },
  // Half the bytes to parse at each start; names are kept so that NIMBO_DEBUG=1 stack traces stay readable.
  minifyWhitespace: true,
  minifySyntax: true,
  metafile: true,
  write: false,
  logLevel: 'warning',
});

// scripts/cli-loader.cjs runs the body as a vm.Script, where import() needs a helper: rewrite each dynamic import,
// and check that every one esbuild left was found.
const dynamic = Object.values(result.metafile.outputs).flatMap((o) => o.imports).filter((i) => i.kind === 'dynamic-import' && i.external);
let code = result.outputFiles[0].text.replace(/^#!.*\n/, '');
let n = 0;
code = code.replace(/\bimport\((?=")/g, () => (n++, '__nimboImport('));
if (n !== dynamic.length) throw new Error(`bundle-cli: rewrote ${n} import() calls, esbuild reports ${dynamic.length}`);
writeFileSync(body, code);
const entry = join(cliDir, 'nimbo.cjs');
copyFileSync(join(root, 'scripts/cli-loader.cjs'), entry);

// The code cache: what one run compiles (commander, the command table, the instance commands, the client and an
// unreachable-daemon error), from an empty state dir and a port where nothing listens.
const state = mkdtempSync(join(tmpdir(), 'nimbo-bundle-'));
try {
  spawnSync(process.execPath, [entry, 'list'], {
    stdio: 'ignore',
    env: { PATH: process.env.PATH, NIMBO_WRITE_CODE_CACHE: '1', NIMBO_STATE_DIR: state, NIMBO_URL: 'http://127.0.0.1:1', NIMBO_TOKEN: 'x' },
  });
} finally {
  rmSync(state, { recursive: true, force: true });
}
if (!existsSync(`${body}.cache`)) throw new Error('bundle-cli: no code cache was written');
// Written last, so the launcher's freshness test (entry newer than main.js) also covers the body and its cache.
utimesSync(entry, new Date(), new Date());
