// The web panel end to end, in Debian's Chromium against a real daemon with a real VM and container: one
// browser, shared instances. Every main page is screenshotted (test-artifacts/) and checked with axe-core;
// any browser console error fails the run.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { TestDaemon, systemSkipReason } from './harness.js';
import { axeSerious, browserSkipReason, launchBrowser, loginAs, openPage, shoot } from './panel-browser.js';

const skip = systemSkipReason() ?? browserSkipReason();
const sfx = Math.random().toString(36).slice(2, 6);
const VM = `pvm${sfx}`;
const CT = `pct${sfx}`;
const FW = `pfw${sfx}`;

describe('the web panel in Chromium', { skip }, () => {
  let d: TestDaemon;
  let browser: Browser;
  let page: Page;
  let adminPassword: string;
  const errors: string[] = [];
  const a11y: string[] = [];

  /** Screenshot and axe-check the page now shown. */
  const check = async (name: string) => {
    await page.waitForTimeout(300);
    await shoot(page, name);
    for (const v of await axeSerious(page)) a11y.push(`${name}: ${v}`);
  };
  const go = async (path: string, heading: string | RegExp) => {
    await page.goto(`${d.url}/#${path}`);
    await page.getByRole('heading', { level: 1, name: heading }).waitFor({ timeout: 15_000 });
  };

  before(async () => {
    d = await TestDaemon.start();
    adminPassword = (JSON.parse(readFileSync(join(d.stateDir, 'admin.credentials'), 'utf8')) as { password: string }).password;
    const built = await d.cli('image', 'build', 'tiny', '--quiet');
    assert.equal(built.code, 0, built.stderr);
    browser = await launchBrowser();
    page = (await openPage(browser, errors, 'admin')).page;
  });
  after(async () => {
    await browser?.close().catch(() => undefined);
    await d?.cleanup();
  });

  test('a wrong password shows the API sentence; the admin logs in and sees the dashboard', async () => {
    await page.goto(`${d.url}/`);
    await check('login');
    await page.getByLabel('User name').fill('admin');
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: /wrong user name or password/ }).waitFor({ timeout: 10_000 });
    // A refused login is an expected 401: the browser logs it, the panel shows the sentence.
    errors.splice(0);
    await loginAs(page, d.url, 'admin', adminPassword);
    for (const h of ['Instances', 'Host', 'Recent operations', 'Recent events']) await page.getByRole('heading', { name: h }).first().waitFor({ timeout: 15_000 });
    await check('dashboard');
  });

  test('launches a container and a VM from the wizard', async () => {
    for (const [name, type] of [[CT, 'Container'], [VM, 'Virtual machine']] as const) {
      await go('/instances/new', /create/i);
      await page.getByRole('radio', { name: type }).check();
      await page.getByLabel('Name', { exact: true }).fill(name);
      await page.getByLabel('Image', { exact: true }).selectOption('tiny');
      await page.getByLabel('Memory', { exact: true }).fill(type === 'Container' ? '64MiB' : '192MiB');
      if (name === CT) await check('create');
      await page.getByRole('button', { name: 'Launch' }).click();
      await page.getByRole('heading', { level: 1, name }).waitFor({ timeout: 180_000 });
      await page.locator('.badge', { hasText: 'running' }).first().waitFor({ timeout: 180_000 });
    }
    const list = await d.api('GET', '/instances');
    const names = (list.body.instances as { name: string; state: string }[]).map((i) => `${i.name}:${i.state}`).sort();
    assert.deepEqual(names, [`${CT}:running`, `${VM}:running`]);
  });

  test('the instance list is live and searchable', async () => {
    await go('/instances', 'Instances');
    const table = page.getByRole('table', { name: 'Instances' });
    await table.getByRole('link', { name: VM }).waitFor();
    await page.getByLabel('Search').fill(CT);
    await table.getByRole('link', { name: CT }).waitFor();
    assert.equal(await table.getByRole('link', { name: VM }).count(), 0);
    await page.getByLabel('Search').fill('');
    await check('instances');
  });

  test('the serial console echoes a command typed in the browser', async () => {
    await d.waitConsole(VM, /NIMBO-READY/, 180_000);
    await go(`/instances/${VM}`, VM);
    await check('instance');
    await page.getByRole('tab', { name: 'Console' }).click();
    const term = page.getByLabel('Serial console');
    await term.locator('.xterm-rows').waitFor({ timeout: 20_000 });
    await term.click();
    const marker = `panel-${sfx}`;
    await page.keyboard.type(`echo ${marker}-$((6*7))\n`, { delay: 20 });
    await term.locator('.xterm-rows', { hasText: `${marker}-42` }).waitFor({ timeout: 30_000 });
    await check('console');
  });

  test('the VGA console shows a picture that is not blank', async () => {
    await page.getByRole('tab', { name: 'VGA' }).click();
    const canvas = page.getByLabel('VGA console').locator('canvas');
    await canvas.first().waitFor({ timeout: 30_000 });
    let colours = 0;
    for (let i = 0; i < 40 && colours < 2; i++) {
      await page.waitForTimeout(500);
      colours = await canvas.first().evaluate((c: HTMLCanvasElement) => {
        const ctx = c.getContext('2d');
        if (!ctx || !c.width || !c.height) return 0;
        const data = ctx.getImageData(0, 0, c.width, c.height).data;
        const seen = new Set<number>();
        for (let p = 0; p < data.length && seen.size < 5; p += 4 * 97) seen.add((data[p]! << 16) | (data[p + 1]! << 8) | data[p + 2]!);
        return seen.size;
      });
    }
    await check('vga');
    assert.ok(colours >= 2, 'the VGA canvas has more than one colour');
  });

  test('a graph gains points', async () => {
    await page.getByRole('tab', { name: 'Graphs' }).click();
    const cpu = page.getByLabel('CPU graph');
    await cpu.waitFor({ timeout: 20_000 });
    const points = async () => Number((await cpu.getAttribute('data-points')) ?? '0');
    const first = await points();
    const end = Date.now() + 60_000;
    while ((await points()) <= first && Date.now() < end) await page.waitForTimeout(1000);
    assert.ok((await points()) > first, `the CPU graph grew from ${first} points`);
    await check('graphs');
  });

  test('stop, resize, snapshot and delete from the instance page', async () => {
    await go(`/instances/${CT}`, CT);
    // CPUs and memory change while an instance is stopped (the panel says so; the API refuses a running one).
    await page.getByRole('button', { name: 'Stop', exact: true }).click();
    await page.locator('.badge', { hasText: 'stopped' }).first().waitFor({ timeout: 60_000 });
    await page.getByRole('tab', { name: 'Overview' }).click();
    await page.getByLabel('Memory', { exact: true }).fill('96');
    await page.getByRole('button', { name: 'Resize' }).click();
    await waitFor(async () => (await d.api('GET', `/instances/${CT}`)).body.memory === 96 * 1024 * 1024, 'the container has 96 MiB');
    await page.getByRole('tab', { name: 'Snapshots' }).click();
    await page.getByLabel('Snapshot name').fill('s1');
    await page.getByRole('button', { name: 'Take snapshot' }).click();
    await page.getByRole('table', { name: 'Snapshots' }).getByText('s1', { exact: true }).waitFor({ timeout: 60_000 });
    await check('snapshots');
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.getByRole('button', { name: 'Confirm delete' }).click();
    await waitFor(async () => (await d.api('GET', `/instances/${CT}`)).status === 404, 'the container is gone');
    // The panel goes to the list once the delete operation ends: wait for it, so the next test's page stays.
    await page.getByRole('heading', { level: 1, name: 'Instances' }).waitFor({ timeout: 60_000 });
  });

  // UEFI and hot-add room; the TPM box stays unticked (swtpm exits 1 on this Debian host, refusing the launch).
  test('the wizard launches a UEFI VM with hot-add room; the images page imports from a URL', async () => {
    await go('/instances/new', /create/i);
    await page.getByRole('radio', { name: 'Virtual machine' }).check();
    await page.getByLabel('Name', { exact: true }).fill(FW);
    await page.getByLabel('Image', { exact: true }).selectOption('tiny');
    await page.getByLabel('Memory', { exact: true }).fill('128MiB');
    await page.getByLabel('Firmware').selectOption('uefi');
    assert.equal(await page.getByLabel('Secure Boot').isEnabled(), true, 'Secure Boot is offered with UEFI');
    await page.getByLabel('TPM 2.0').waitFor();
    await page.getByLabel('Max CPUs').fill('2');
    await page.getByLabel('Max memory').fill('256MiB');
    await check('create-vm');
    await page.getByRole('button', { name: 'Launch' }).click();
    // The new instance's page, or the refusal's sentence (then the test fails with it).
    await page.getByRole('heading', { level: 1, name: FW }).or(page.getByRole('alert')).first().waitFor({ timeout: 120_000 });
    const refused = page.getByRole('alert');
    if (await refused.count()) assert.fail(`the launch was refused: ${await refused.first().textContent()}`);
    // What the API recorded is what the form asked for (the request body carried the VM fields).
    const got = await d.api('GET', `/instances/${FW}`);
    assert.deepEqual(got.body.firmware, { type: 'uefi', secureBoot: false, tpm: false });
    assert.equal(got.body.maxCpus, 2);
    assert.equal(got.body.maxMemory, 256 * 1024 * 1024);
    await page.getByText('UEFI', { exact: true }).waitFor({ timeout: 15_000 });
    await page.getByText('1 (up to 2)').waitFor();
    await page.getByText(/128 MiB \(up to 256 MiB\)/).waitFor();
    await go('/images', 'Images');
    const del = await d.api('DELETE', `/instances/${FW}?force=true`);
    assert.ok(del.status < 300, JSON.stringify(del.body));
    await page.getByRole('heading', { name: 'Import from URL' }).waitFor();
    await page.getByLabel('Image URL').waitFor();
    await page.getByRole('heading', { name: 'Image remotes' }).waitFor();
    await waitFor(async () => (await d.api('GET', `/instances/${FW}`)).status === 404, 'the UEFI VM is gone');
  });

  test('every main page renders for the admin, with no serious accessibility violation', async () => {
    for (const [path, heading, name] of [
      ['/operations', 'Operations', 'operations'], ['/images', 'Images', 'images'], ['/storage', 'Storage', 'storage'],
      ['/networks', 'Networks', 'networks'], ['/security-groups', 'Security groups', 'security-groups'], ['/backups', 'Backups', 'backups'],
      ['/admin/projects', 'Projects', 'projects'], ['/admin/users', 'Users', 'users'], ['/admin/tokens', 'API tokens', 'tokens'],
      ['/admin/plans', 'Plans', 'plans'], ['/admin/quota', 'Quota and usage', 'quota'], ['/admin/audit', 'Audit log', 'audit'],
    ] as const) {
      await go(path, heading);
      await page.waitForTimeout(700);
      await check(name);
    }
  });

  test('a tenant sees only its own project: none of the admin project instances', async () => {
    const mk = async (m: string, p: string, b: unknown) => {
      const r = await d.api(m, p, b);
      assert.ok(r.status < 300, `${m} ${p}: ${r.status} ${JSON.stringify(r.body)}`);
    };
    await mk('POST', '/projects', { name: `ten${sfx}` });
    await mk('POST', '/users', { name: `tenant${sfx}`, password: 'tenant-password-1' });
    await mk('POST', `/projects/ten${sfx}/members`, { user: `tenant${sfx}`, role: 'owner' });
    await mk('PATCH', `/users/tenant${sfx}`, { defaultProject: `ten${sfx}` });
    const tenant = (await openPage(browser, errors, 'tenant')).page;
    const saved = page;
    page = tenant;
    try {
      await loginAs(page, d.url, `tenant${sfx}`, 'tenant-password-1');
      await go('/instances', 'Instances');
      await page.waitForTimeout(1500);
      assert.equal(await page.getByText(VM).count(), 0, 'the admin VM is not shown to the tenant');
      await check('tenant-instances');
      // The admin menu shows nothing a tenant may not use.
      const menu = page.getByRole('navigation', { name: 'Main' });
      assert.equal(await menu.getByRole('link', { name: 'Users' }).count(), 0);
      assert.equal(await menu.getByRole('link', { name: 'Audit log' }).count(), 0);
      await go('/', 'Dashboard');
      await check('tenant-dashboard');
    } finally {
      page = saved;
      await tenant.context().close();
    }
  });

  test('no browser console errors and no serious accessibility violations on any page', () => {
    assert.deepEqual(errors, []);
    assert.deepEqual(a11y, []);
  });
});

async function waitFor(fn: () => Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.fail(`timed out: ${what}`);
}
