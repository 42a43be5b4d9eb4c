import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestDaemon, sleep, systemSkipReason } from './harness.js';
import { runArgv } from '../../src/host/exec.js';

// The metadata service end to end with real system containers on a real bridge: each instance reads its
// own data at 169.254.169.254, never another's, and a guest that takes another instance's address gets
// nothing. (The real cloud-init side is in images.test.ts, on the debian-12 VM it boots anyway.)

const skip = systemSkipReason();
const MD = 'http://169.254.169.254';

interface Inst { id: string; name: string; addresses: string[]; nics: { address: string }[] }

describe('metadata service at 169.254.169.254 (runc containers)', { skip }, () => {
  let d: TestDaemon;
  let tmp: string;
  const run = async (...args: string[]) => {
    const r = await d.cli(...args);
    assert.equal(r.code, 0, `nimbo ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  /**
   * GET url from inside the container with busybox nc (the image's static busybox wget crashes on
   * name-service lookups); the body of a 200 answer, else '' (an error status, or no answer at all).
   */
  const fetchIn = async (name: string, url: string, timeoutS = 5) => {
    const u = new URL(url);
    const req = `GET ${u.pathname} HTTP/1.0\\r\\nHost: ${u.host}\\r\\n\\r\\n`;
    const r = await d.cli('exec', name, '--', 'sh', '-c', `printf '${req}' | nc -w ${timeoutS} ${u.hostname} ${u.port || 80}`);
    const [head, ...body] = r.stdout.split('\r\n\r\n');
    return /^HTTP\/1\.1 200 /.test(head ?? '') ? body.join('\r\n\r\n') : '';
  };

  before(async () => {
    d = await TestDaemon.start();
    tmp = mkdtempSync(join(tmpdir(), 'nimbo-mdtest-'));
  });
  after(async () => {
    await d?.cleanup();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('bad user-data is refused with one clear sentence and creates nothing', async () => {
    const big = await d.api('POST', '/instances', { name: 'big', image: 'tiny', type: 'container', userData: 'x'.repeat(65537) });
    assert.equal(big.status, 400);
    assert.match(big.body.error.message, /userData|65536/);
    const wide = await d.api('POST', '/instances', { name: 'wide', image: 'tiny', type: 'container', userData: 'é'.repeat(40000) });
    assert.equal(wide.status, 400);
    assert.match(wide.body.error.message, /user-data is 80000 bytes; the limit is 65536 bytes \(64 KiB\)/);
    const file = join(tmp, 'huge.sh');
    writeFileSync(file, 'x'.repeat(70000));
    const cli = await d.cli('launch', 'tiny', 'huge', '--container', '--user-data', file);
    assert.equal(cli.code, 2);
    assert.match(cli.stderr, /is 70000 bytes; the limit is 65536 bytes/);
    assert.equal((await d.cli('launch', 'tiny', 'nofile', '--container', '--user-data', join(tmp, 'missing'))).code, 2);
    assert.deepEqual((await d.api('GET', '/instances')).body.instances, [], 'nothing was created');
  });

  test('each instance reads its own id and user-data; a second instance its own; a spoofed source gets nothing', { timeout: 240_000 }, async () => {
    const ud = join(tmp, 'ud.sh');
    writeFileSync(ud, '#!/bin/sh\necho marker-a > /run/marker\n');
    await run('launch', 'tiny', 'ma', '--container', '--memory', '64MiB', '--user-data', ud, '--quiet');
    await run('launch', 'tiny', 'mb', '--container', '--memory', '64MiB', '--quiet');
    const [a, b] = [await d.cliJson<Inst>('info', 'ma'), await d.cliJson<Inst>('info', 'mb')];
    await d.waitConsole('ma', /NIMBO-READY ma/, 60_000);
    await d.waitConsole('mb', /NIMBO-READY mb/, 60_000);

    const first = await fetchIn('ma', `${MD}/latest/meta-data/instance-id`);
    if (first !== a.id) {
      const rules = (await runArgv(['nft', 'list', 'table', 'inet', d.prefix], { allowFailure: true })).stdout;
      const ss = (await runArgv(['ss', '-ltn'], { allowFailure: true })).stdout;
      assert.fail(`no answer at ${MD}: ${JSON.stringify(first)}\n--- listening\n${ss}\n--- ruleset\n${rules}`);
    }
    assert.equal(await fetchIn('mb', `${MD}/latest/meta-data/instance-id`), b.id);
    assert.equal(await fetchIn('ma', `${MD}/latest/meta-data/local-ipv4`), a.addresses[0]);
    assert.equal(await fetchIn('ma', `${MD}/latest/user-data`), '#!/bin/sh\necho marker-a > /run/marker\n');
    assert.match(await fetchIn('ma', `${MD}/nocloud/user-data`), /^Content-Type: multipart\/mixed[\s\S]*echo marker-a/);
    assert.equal(await fetchIn('ma', `${MD}/nocloud/meta-data`), `instance-id: "${a.id}"\nlocal-hostname: "ma"\n`);
    assert.equal(await fetchIn('mb', `${MD}/latest/user-data`), '', 'no user-data: 404');
    assert.ok(!(await fetchIn('mb', `${MD}/nocloud/user-data`)).includes('marker-a'), 'b never sees a\'s user-data');

    // The per-NIC ports nimbod serves on (from the DNAT rules): b cannot skip the DNAT and ask a's port itself.
    const chain = (await runArgv(['nft', 'list', 'chain', 'inet', d.prefix, 'md_prerouting'])).stdout;
    const portOf = (addr: string) => Number(new RegExp(`ip saddr ${addr.replace(/\./g, '\\.')} .* dnat ip to [0-9.]+:(\\d+)`).exec(chain)?.[1]);
    const gw = /dnat ip to ([0-9.]+):/.exec(chain)![1]!;
    const [pa, pb] = [portOf(a.addresses[0]!), portOf(b.addresses[0]!)];
    assert.ok(pa > 0 && pb > 0 && pa !== pb, chain);
    assert.equal(await fetchIn('mb', `http://${gw}:${pa}/latest/meta-data/instance-id`, 3), '', 'a\'s port, asked directly from b');
    assert.equal(await fetchIn('mb', `http://${gw}:${pb}/latest/meta-data/instance-id`, 3), '', 'even its own port only through 169.254.169.254');
    // The host itself (source = the gateway) on a's port: refused by nimbod (403), no data.
    const host = await fetch(`http://${gw}:${pa}/latest/meta-data/instance-id`).then(async (r) => ({ status: r.status, body: await r.text() }));
    assert.equal(host.status, 403);
    assert.ok(!host.body.includes(a.id));

    // b takes a's address while a is stopped (its NIC, port and DNAT stay): b answers ARP for it, so without
    // the bridge's anti-spoofing the host's replies would reach b and b would read a's data.
    await run('stop', 'ma', '--force', '--quiet');
    const other = a.addresses[0]!;
    const bridge = /iifname "([^"]+)"/.exec(chain)![1]!;
    const spoofed = async () => {
      await runArgv(['ip', 'neigh', 'flush', 'to', other, 'dev', bridge], { allowFailure: true });
      const r = await d.cli('exec', 'mb', '--', 'sh', '-c', [
        `ip addr add ${other}/32 dev eth0`,
        `ip route add 169.254.169.254/32 via ${gw} dev eth0 src ${other}`,
        `printf 'GET /latest/meta-data/instance-id HTTP/1.0\\r\\n\\r\\n' | nc -w 6 169.254.169.254 80; echo " rc=$?"`,
        `ip route del 169.254.169.254/32; ip addr del ${other}/32 dev eth0`,
      ].join('; '));
      assert.equal(r.code, 0, r.stderr);
      return r.stdout;
    };
    const spoof = await spoofed();
    assert.ok(!spoof.includes(a.id) && !spoof.includes(b.id), `spoofed: ${spoof}`);
    assert.match(spoof, /rc=[1-9]/);
    // Control: without the bridge table (the per-port anti-spoofing) the same spoof reads a's id, so the
    // check above measured the firewall. Any firewall change renders the whole ruleset again.
    await runArgv(['nft', 'delete', 'table', 'bridge', d.prefix]);
    try {
      assert.match(await spoofed(), new RegExp(a.id), 'without anti-spoofing the spoof works');
    } finally {
      await run('firewall', 'group', 'create', 'tight');
    }
    assert.equal((await runArgv(['nft', 'list', 'table', 'bridge', d.prefix], { allowFailure: true })).code, 0, 'the bridge table is back');
    // With its own source again, b is answered, even when its groups allow almost no egress (as on EC2,
    // security groups do not filter the metadata service) while other traffic to the host is cut.
    const ping = () => d.cli('exec', 'mb', '--', 'sh', '-c', `ping -c 1 -W 2 ${gw} >/dev/null; echo " rc=$?"`).then((r) => r.stdout);
    assert.match(await ping(), /rc=0/, 'the gateway answers ping before');
    await run('firewall', 'group', 'rule', 'add', 'tight', '--direction', 'egress', '--protocol', 'tcp', '--port', '443', '--destination', '192.0.2.0/24');
    await run('firewall', 'group', 'attach', 'tight', 'mb');
    assert.match(await ping(), /rc=[1-9]/, 'egress rules in force: ping to the gateway is cut');
    assert.equal(await fetchIn('mb', `${MD}/latest/meta-data/instance-id`), b.id);

    // Deleted: its port leaves the ruleset.
    await run('delete', 'ma', '--force', '--quiet');
    const after = (await runArgv(['nft', 'list', 'chain', 'inet', d.prefix, 'md_prerouting'])).stdout;
    assert.ok(!after.includes(`ip saddr ${a.addresses[0]} `), after);
    assert.equal(await fetchIn('mb', `${MD}/latest/meta-data/instance-id`), b.id);

    // A daemon restart keeps b's port (recorded by UUID) and listens on it again; b keeps running meanwhile.
    await d.stop();
    await d.launch();
    assert.equal((await runArgv(['nft', 'list', 'chain', 'inet', d.prefix, 'md_prerouting'])).stdout, after);
    assert.equal(await fetchIn('mb', `${MD}/latest/meta-data/instance-id`), b.id);
  });
});
