import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { FakeExec } from '../../../host/fake-exec.js';
import type { ExecOptions, ExecResult } from '../../../host/exec.js';
import { buildSeedIso } from './seed-iso.js';

/** genisoimage fake: checks the staged tree, then writes the output file. */
class IsoFake extends FakeExec {
  staged: Record<string, string> = {};
  override async run(argv: string[], opts?: ExecOptions): Promise<ExecResult> {
    const res = await super.run(argv, opts);
    const dir = argv.at(-1)!;
    this.staged['meta-data'] = await readFile(join(dir, 'meta-data'), 'utf8');
    this.staged['nimbo/hostname'] = await readFile(join(dir, 'nimbo/hostname'), 'utf8');
    await writeFile(argv[argv.indexOf('-output') + 1]!, 'ISO');
    return res;
  }
}

test('buildSeedIso: genisoimage with label cidata, staged files, no leftovers', async () => {
  const d = await mkdtemp(join(tmpdir(), 'qh2-seediso-'));
  try {
    const exec = new IsoFake();
    const out = join(d, 'seed.iso');
    await buildSeedIso(exec, { 'meta-data': 'instance-id: "i"\n', 'nimbo/hostname': 'vm\n' }, out);
    const argv = exec.calls[0]!.argv;
    assert.deepEqual(argv.slice(0, 3), ['genisoimage', '-quiet', '-output']);
    assert.equal(argv[3], `${out}.part`);
    assert.deepEqual(argv.slice(4, 9), ['-volid', 'cidata', '-joliet', '-rock', argv[8]]);
    assert.deepEqual(exec.staged, { 'meta-data': 'instance-id: "i"\n', 'nimbo/hostname': 'vm\n' });
    assert.equal(await readFile(out, 'utf8'), 'ISO');
    assert.deepEqual(await readdir(d), ['seed.iso']);
    await assert.rejects(buildSeedIso(exec, { '../evil': 'x' }, out), { code: 'InvalidArgument' });
    await assert.rejects(buildSeedIso(exec, { '/etc/passwd': 'x' }, out), { code: 'InvalidArgument' });
    const failing = new FakeExec().on(['genisoimage'], { code: 1, stderr: 'genisoimage: No space left' });
    await assert.rejects(buildSeedIso(failing, { 'meta-data': '' }, join(d, 'x.iso')), { code: 'HostCommandFailed' });
    assert.deepEqual(await readdir(d), ['seed.iso']);
  } finally {
    await rm(d, { recursive: true, force: true });
  }
});
