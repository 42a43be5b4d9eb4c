// The nimbo CLI's entry, dist/src/cli/nimbo.cjs (copied there by scripts/bundle-cli.mjs): runs the bundle
// nimbo-body.cjs with V8's code cache made at build time (nimbo-body.cjs.cache), which saves compiling
// commander and the CLI on every start. A missing or rejected cache (another node version) only costs that time.
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const Module = require('node:module');
const { join } = require('node:path');
const { Script } = require('node:vm');

const file = join(__dirname, 'nimbo-body.cjs');
const cacheFile = `${file}.cache`;
let cachedData;
try {
  cachedData = readFileSync(cacheFile);
} catch {
  // no cache: compile as usual
}
// The body's dynamic import() calls are rewritten to __nimboImport(): a vm.Script cannot import() by itself,
// and this module's own import() resolves from the same directory.
const source = readFileSync(file, 'utf8');
const script = new Script(`(function (exports, require, module, __filename, __dirname, __nimboImport) {${source}\n})`, { filename: file, cachedData });
if (process.env.NIMBO_DEBUG === '1' && cachedData && script.cachedDataRejected) process.stderr.write('nimbo: the code cache was rejected\n');
// Build time only (scripts/bundle-cli.mjs): keep what this run compiled, for the next starts.
if (process.env.NIMBO_WRITE_CODE_CACHE === '1') process.on('exit', () => writeFileSync(cacheFile, script.createCachedData()));
const body = new Module(file, module);
body.filename = file;
body.paths = Module._nodeModulePaths(__dirname);
script.runInThisContext().call(body.exports, body.exports, Module.createRequire(file), body, file, __dirname, (specifier) => import(specifier));
