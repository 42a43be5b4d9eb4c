/**
 * bench/panel-load: the web panel's first load on loopback, in Debian's Chromium (playwright-core), against a
 * real nimbod: from navigation to interactive (the dashboard's heading and menu drawn after whoami answered),
 * with an empty cache each round, a session already logged in. The baseline in the same run is a bare
 * static page from a plain node:http server on loopback (what the browser itself costs). Also prints the
 * JS bundle's gzipped size: the first load's scripts and every script the panel can load.
 * Run: npm run bench:panel-load (root: it starts a daemon).
 */
import { createServer } from 'node:http';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { TestDaemon, ROOT } from '../test/system/harness.js';
import { launchBrowser, loginAs } from '../test/system/panel-browser.js';

const ROUNDS = Number(process.env.ROUNDS ?? 7);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

function bundleSizes(): { first: number; all: number; files: number } {
  const dist = join(ROOT, 'web', 'dist');
  const index = readFileSync(join(dist, 'index.html'), 'utf8');
  const assets = readdirSync(join(dist, 'assets')).filter((f) => f.endsWith('.js') || f.endsWith('.css'));
  const gz = (f: string) => gzipSync(readFileSync(join(dist, 'assets', f)), { level: 9 }).length;
  // The first load: what index.html names (the entry and its preloaded chunks); the rest loads on use.
  const first = assets.filter((f) => index.includes(`/assets/${f}`));
  const js = assets.filter((f) => f.endsWith('.js'));
  return { first: first.reduce((n, f) => n + gz(f), 0), all: js.reduce((n, f) => n + gz(f), 0), files: js.length };
}

async function main() {
  const sizes = bundleSizes();
  const d = await TestDaemon.start();
  const bare = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>bare</title><h1>bare</h1><nav aria-label="Main">x</nav>'));
  await new Promise<void>((r) => bare.listen(0, '127.0.0.1', r));
  const barePort = (bare.address() as { port: number }).port;
  const browser = await launchBrowser();
  try {
    const password = (JSON.parse(readFileSync(join(d.stateDir, 'admin.credentials'), 'utf8')) as { password: string }).password;
    const login = await browser.newContext();
    await loginAs(await login.newPage(), d.url, 'admin', password);
    const cookies = await login.cookies();
    await login.close();
    const panel: number[] = [];
    const baseline: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      for (const kind of ['panel', 'bare'] as const) {
        // A new context each time: an empty cache, the session cookie only.
        const ctx = await browser.newContext();
        if (kind === 'panel') await ctx.addCookies(cookies);
        const page = await ctx.newPage();
        const t0 = performance.now();
        await page.goto(kind === 'panel' ? `${d.url}/` : `http://127.0.0.1:${barePort}/`, { waitUntil: 'commit' });
        await page.getByRole('navigation', { name: 'Main' }).waitFor();
        await page.getByRole('heading', { level: 1 }).first().waitFor();
        (kind === 'panel' ? panel : baseline).push(performance.now() - t0);
        await ctx.close();
      }
    }
    const p = median(panel);
    const b = median(baseline);
    console.log(`panel-load: first load to interactive (menu and dashboard heading drawn, logged in, empty cache), median of ${ROUNDS} on loopback: nimbo panel ${p.toFixed(0)} ms | bare static page ${b.toFixed(0)} ms | ratio ${(p / b).toFixed(2)} (target: panel < 1000 ms)`);
    console.log(`panel-load: JS bundle gzipped: first load ${kib(sizes.first)} (JS+CSS named by index.html) | all ${sizes.files} scripts ${kib(sizes.all)} (target < 300 KiB)`);
  } finally {
    await browser.close();
    bare.close();
    await d.cleanup();
  }
}

await main();
