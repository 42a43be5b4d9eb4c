import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeExec } from '../../../host/fake-exec.js';
import { checkRuncVersion, compareRuncVersions, hasFix, parseRuncVersion, parseRuncVersionOutput, RUNC_CVES, runcVersionReport, upgradeTargets } from './runc-version.js';

const v = (s: string) => parseRuncVersion(s)!;
const cve = (id: string) => RUNC_CVES.find((c) => c.id === id)!;

test('parseRuncVersion: releases, old rcNN and new rc.N prereleases, distribution build suffixes; junk is null', () => {
  assert.deepEqual(v('1.1.12'), { major: 1, minor: 1, patch: 12, pre: [], build: '', text: '1.1.12' });
  assert.deepEqual(v('1.0.0-rc95').pre, ['rc', 95]);
  assert.deepEqual(v('1.4.0-rc.3').pre, ['rc', 3]);
  assert.equal(v('1.1.5+ds1').build, 'ds1');
  assert.equal(v('1.1.5+ds1').patch, 5);
  assert.equal(v('v1.2').patch, 0);
  for (const bad of ['', 'unknown', '1', '1.x.2', '1.1.5 extra']) assert.equal(parseRuncVersion(bad), null, bad);
});

test('parseRuncVersionOutput: the version line and the commit line (a package version on Debian)', () => {
  const debian = 'runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1+deb12u1\nspec: 1.0.2-dev\ngo: go1.19.8\nlibseccomp: 2.5.4\n';
  const p = parseRuncVersionOutput(debian)!;
  assert.equal(p.version.text, '1.1.5+ds1');
  assert.equal(p.commit, '1.1.5+ds1-1+deb12u1');
  assert.equal(parseRuncVersionOutput('runc version 1.2.8\ncommit: v1.2.8-0-g1a2b3c4\n')!.commit, 'v1.2.8-0-g1a2b3c4');
  assert.equal(parseRuncVersionOutput('crun version 1.8.1\ncommit: abc\n')!.version.text, '1.8.1');
  assert.equal(parseRuncVersionOutput('no version here'), null);
});

test('compareRuncVersions: numeric parts, prereleases before their release, rc7 < rc95 < release', () => {
  const order = ['1.0.0-rc6', '1.0.0-rc7', '1.0.0-rc10', '1.0.0-rc95', '1.0.0', '1.1.11', '1.1.12', '1.1.12+ds1', '1.2.0', '1.4.0-rc.2', '1.4.0-rc.3', '1.4.0', '2.0.0'];
  for (let i = 0; i < order.length - 1; i++) {
    const a = v(order[i]!);
    const b = v(order[i + 1]!);
    assert.ok(compareRuncVersions(a, b) <= 0 && compareRuncVersions(b, a) >= 0, `${order[i]} <= ${order[i + 1]}`);
  }
  assert.equal(compareRuncVersions(v('1.1.12'), v('1.1.12+ds1')), 0); // build metadata does not order
  assert.ok(compareRuncVersions(v('1.0.0-rc95'), v('1.0.0-rc.95')) === 0);
});

test('hasFix: per-branch fixes, branches newer than every fix, older branches lack it', () => {
  const c25 = cve('CVE-2025-31133');
  const yes = ['1.2.8', '1.2.9', '1.3.3', '1.3.10', '1.4.0-rc.3', '1.4.0', '1.5.0', '2.0.0'];
  const no = ['1.1.15', '1.2.7', '1.3.0', '1.3.2', '1.4.0-rc.2', '1.0.0', '0.1.1'];
  for (const s of yes) assert.ok(hasFix(v(s), c25), `${s} has the fix`);
  for (const s of no) assert.ok(!hasFix(v(s), c25), `${s} lacks the fix`);
  const leaky = cve('CVE-2024-21626');
  assert.ok(!hasFix(v('1.1.11'), leaky));
  assert.ok(hasFix(v('1.1.12'), leaky));
  assert.ok(hasFix(v('1.2.0'), leaky));
  assert.ok(!hasFix(v('1.0.3'), leaky));
  const exe = cve('CVE-2019-5736');
  assert.ok(!hasFix(v('1.0.0-rc6'), exe));
  assert.ok(hasFix(v('1.0.0-rc7'), exe));
  assert.ok(hasFix(v('1.0.0-rc10'), exe));
});

test('runcVersionReport: what is missing, the Debian backport, upgrade targets, unreadable output', () => {
  const old = runcVersionReport('runc version 1.0.0-rc6\ncommit: x\n');
  assert.deepEqual(old.missing.map((c) => c.id), RUNC_CVES.map((c) => c.id));
  const debian = runcVersionReport('runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1+deb12u1\nspec: 1.0.2-dev\n');
  assert.deepEqual(debian.missing.map((c) => c.id), ['CVE-2025-31133', 'CVE-2025-52565', 'CVE-2025-52881']);
  assert.match(debian.detail, /^1\.1\.5\+ds1 \(1\.1\.5\+ds1-1\+deb12u1\) lacks the fixes for CVE-2025-31133, CVE-2025-52565, CVE-2025-52881: upgrade runc to 1\.2\.8 or 1\.3\.3 or newer/);
  // The same upstream version without Debian's patch lacks CVE-2024-21626 too.
  assert.deepEqual(runcVersionReport('runc version 1.1.5\ncommit: v1.1.5-0-gf19387a6\n').missing.map((c) => c.id), ['CVE-2024-21626', 'CVE-2025-31133', 'CVE-2025-52565', 'CVE-2025-52881']);
  for (const good of ['1.2.8', '1.3.3', '1.3.4', '1.4.0']) {
    const r = runcVersionReport(`runc version ${good}\ncommit: v${good}-0-gabc\n`);
    assert.deepEqual(r.missing, [], good);
    assert.match(r.detail, /has the known container-escape fixes/);
  }
  assert.equal(runcVersionReport('garbage').version, null);
  assert.deepEqual(upgradeTargets([cve('CVE-2024-21626')]), ['1.1.12']);
  assert.deepEqual(upgradeTargets([cve('CVE-2024-21626'), cve('CVE-2025-52881')]), ['1.2.8', '1.3.3']);
});

test('checkRuncVersion: runs RUNTIME --version as an argv; a failing runtime is reported, not thrown', async () => {
  const exec = new FakeExec().on(['runc', '--version'], { stdout: 'runc version 1.3.3\ncommit: v1.3.3\n' });
  const r = await checkRuncVersion(exec);
  assert.equal(r.version, '1.3.3');
  assert.deepEqual(exec.lines(), ['runc --version']);
  const broken = new FakeExec().on(['/opt/runc', '--version'], { code: 1, stderr: 'boom\n' });
  const b = await checkRuncVersion(broken, '/opt/runc');
  assert.equal(b.version, null);
  assert.match(b.detail, /\/opt\/runc --version failed: boom/);
});
