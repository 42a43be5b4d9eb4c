// Bundles the CLI (dist/src/cli/main.js and the CLI modules it reaches, with commander) into one file beside it,
// dist/src/cli/nimbo.cjs, which ./nimbo runs: one file loads faster than twenty. Run after tsc. Other packages
// (ws, yaml, ...) and the daemon's code stay separate files, loaded only by the commands that use them.
import { build } from 'esbuild';
import { readdirSync, rmSync } from 'node:fs';
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

for (const f of readdirSync(cliDir)) if (/^nimbo(-chunk-.*)?\.(js|mjs|cjs)$/.test(f)) rmSync(join(cliDir, f));
await build({
  entryPoints: [join(cliDir, 'main.js')],
  // CommonJS, so that a lazily imported module's own imports (node:tls, ...) stay lazy: in an ES module bundle
  // esbuild hoists them all to the top, and they would load on every start.
  outfile: join(cliDir, 'nimbo.cjs'),
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
  logLevel: 'warning',
});
