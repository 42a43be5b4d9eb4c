// The web panel's end-to-end toolkit: Debian's Chromium driven by playwright-core, axe-core for accessibility,
// screenshots saved as test artifacts, and every browser console error collected (the tests fail on any).
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ROOT } from './harness.js';

const require = createRequire(import.meta.url);

/** Where Debian's chromium package puts the browser. */
export const CHROMIUM = '/usr/bin/chromium';
/** Where the screenshots go (CI keeps the folder): $NIMBO_TEST_ARTIFACTS or test-artifacts/ in the checkout. */
export const ARTIFACTS = process.env.NIMBO_TEST_ARTIFACTS ?? join(ROOT, 'test-artifacts');

/** Start headless Chromium (as root it needs --no-sandbox). */
export async function launchBrowser(): Promise<Browser> {
  const { chromium } = require('playwright-core') as typeof import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

/** A browser context (its own cookies) and page whose console errors and page errors land in `errors`. */
export async function openPage(browser: Browser, errors: string[], label: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1366, height: 860 } });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`${label}: console: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => errors.push(`${label}: page error: ${e.message}`));
  return { context, page };
}

/** Log in through the login form and wait for the menu. */
export async function loginAs(page: Page, url: string, user: string, password: string): Promise<void> {
  await page.goto(`${url}/`);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor({ timeout: 15_000 });
}

/** Save a full-page screenshot as `name`.png under ARTIFACTS. */
export async function shoot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `panel-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

let axeSource: string | undefined;
/** Run axe-core on the page: the serious and critical violations, as "rule: help (n nodes)" lines. */
export async function axeSerious(page: Page): Promise<string[]> {
  axeSource ??= readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  // Evaluated over the DevTools protocol: the panel's CSP (script-src 'self') does not apply to it.
  if (!(await page.evaluate('typeof window.axe !== "undefined"'))) await page.evaluate(axeSource);
  const result = (await page.evaluate('window.axe.run(document, { resultTypes: ["violations"] })')) as { violations: { id: string; impact?: string; help: string; nodes: { target: string[] }[] }[] };
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.help} (${v.nodes.length} nodes: ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')})`);
}

/** Why the browser tests cannot run here, or undefined (under CI=true nothing is skipped: a missing browser fails). */
export function browserSkipReason(): string | undefined {
  if (process.env.CI === 'true') return undefined;
  return existsSync(CHROMIUM) ? undefined : 'chromium is not installed (apt-get install chromium, or run scripts/setup.sh scripts/test-packages.txt)';
}
