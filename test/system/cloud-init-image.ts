import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runArgv } from '../../src/host/exec.js';
import type { TestDaemon } from './harness.js';

// Test-only: a copy of the built-in debian-12 disk with Debian's real cloud-init package added, told by
// its own cloud.cfg.d to read everything from the metadata service (NoCloud-net). The built-in image
// carries no cloud-init (its own seed units apply hostname, keys and network), so this is how the system
// tests put the real cloud-init against nimbo's metadata service with one extra boot.

/**
 * What the derived image's cloud-init is told: NoCloud, seeded over HTTP from 169.254.169.254; networking
 * left to the image. The init stage keeps its default modules; the config and final stages run only what
 * the test uses (the default config modules took ~6 s under TCG: locale generation, grub-dpkg, apt), and
 * only an ed25519 host key is made (RSA and ECDSA keygen took ~7 s).
 */
export const CLOUD_CFG = `datasource_list: [ NoCloud, None ]
datasource:
  NoCloud:
    seedfrom: http://169.254.169.254/nocloud/
network:
  config: disabled
ssh_genkeytypes: [ ed25519 ]
cloud_config_modules: [ runcmd ]
cloud_final_modules: [ scripts-user ]
`;

const PART_OFFSET = 1024 * 1024; // the debian-12 disk: MBR, one ext4 partition at 1 MiB (images/debian12.ts)
const ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' };

/** Converts `qcow2` to `raw`, installs cloud-init into its root fs (loop mount at the partition's offset), writes CLOUD_CFG. */
export async function makeCloudInitDisk(qcow2: string, raw: string, work: string): Promise<void> {
  await runArgv(['qemu-img', 'convert', '-O', 'raw', qcow2, raw], { timeoutMs: 300_000 });
  const mnt = join(work, 'mnt');
  mkdirSync(mnt, { recursive: true });
  const mounted: string[] = [];
  try {
    await runArgv(['mount', '-o', `loop,offset=${PART_OFFSET}`, raw, mnt]);
    mounted.push(mnt);
    for (const fs of ['proc', 'sys', 'dev']) {
      await runArgv(['mount', '--bind', `/${fs}`, join(mnt, fs)]);
      mounted.push(join(mnt, fs));
    }
    // apt inside: the host's resolver and only the image's main mirror line, both put back afterwards.
    const keep = (p: string) => (existsSync(join(mnt, p)) ? readFileSync(join(mnt, p)) : undefined);
    const resolv = keep('etc/resolv.conf');
    const sources = keep('etc/apt/sources.list');
    rmSync(join(mnt, 'etc/resolv.conf'), { force: true });
    copyFileSync('/etc/resolv.conf', join(mnt, 'etc/resolv.conf'));
    const main = (sources?.toString() ?? '').split('\n').find((l) => /^deb\s+\S+\s+bookworm\s+main/.test(l));
    if (main) writeFileSync(join(mnt, 'etc/apt/sources.list'), `${main}\n`);
    const chroot = (argv: string[]) => runArgv(['chroot', mnt, ...argv], { env: ENV, timeoutMs: 600_000 });
    await chroot(['apt-get', 'update']);
    await chroot(['apt-get', 'install', '-y', '--no-install-recommends', 'cloud-init']);
    await chroot(['apt-get', 'clean']);
    writeFileSync(join(mnt, 'etc/cloud/cloud.cfg.d/99-nimbo-metadata.cfg'), CLOUD_CFG);
    rmSync(join(mnt, 'etc/resolv.conf'), { force: true });
    if (resolv) writeFileSync(join(mnt, 'etc/resolv.conf'), resolv);
    if (sources) writeFileSync(join(mnt, 'etc/apt/sources.list'), sources);
  } finally {
    for (const m of mounted.reverse()) await runArgv(['umount', m], { allowFailure: true }).then((r) => (r.code !== 0 ? runArgv(['umount', '-l', m], { allowFailure: true }) : r));
  }
}

/** What the guest's user-data script reported on its serial console. */
export interface CloudInitRun {
  /** The instance's id (nimbo's UUID) and cloud-init's instance id and datasource, as the guest saw them. */
  id: string;
  guestInstanceId: string;
  datasource: string;
  /** Seconds from launch to the marker. */
  seconds: number;
}

/**
 * Derives a cloud-init disk from `qcow2` and imports it as image `deb-ci` (started while an earlier
 * test's VM boots: apt and dpkg here, TCG there).
 */
export async function makeCloudInitImage(d: TestDaemon, qcow2: string, tmp: string): Promise<void> {
  const raw = join(tmp, 'deb-ci.raw');
  await makeCloudInitDisk(qcow2, raw, tmp);
  const imp = await d.cli('image', 'import', raw, '--name', 'deb-ci', '--quiet');
  rmSync(raw, { force: true });
  if (imp.code !== 0) throw new Error(`import: ${imp.stderr}`);
}

/**
 * Launches VM `ci1` from the imported image `deb-ci` (makeCloudInitImage) with a --user-data script
 * that prints cloud-init's instance id and datasource on ttyS0, waits for it, then deletes the VM and
 * the image again (later tests list the images).
 */
export async function runCloudInitUserData(d: TestDaemon, tmp: string, timeoutMs = 480_000): Promise<CloudInitRun> {
  const ud = join(tmp, 'user-data.sh');
  writeFileSync(ud, [
    '#!/bin/sh',
    'ds=$(grep -o "DataSourceNoCloud[A-Za-z]* \\[seed=[^]]*\\]" /run/cloud-init/status.json | head -n 1)',
    'echo "USERDATA-RAN $(cat /var/lib/cloud/data/instance-id) $ds" > /dev/ttyS0',
    '',
  ].join('\n'));
  const t0 = Date.now();
  try {
    const l = await d.cli('launch', 'deb-ci', 'ci1', '--memory', '1GiB', '--user-data', ud, '--quiet');
    if (l.code !== 0) throw new Error(`launch: ${l.stderr}`);
    const log = await d.waitConsole('ci1', /USERDATA-RAN \S+.*\r?\n/, timeoutMs);
    const m = /USERDATA-RAN (\S+) ?(.*?)\r?$/m.exec(log)!;
    const id = (await d.cliJson<{ id: string }>('info', 'ci1')).id;
    return { id, guestInstanceId: m[1]!, datasource: m[2]!, seconds: (Date.now() - t0) / 1000 };
  } finally {
    await d.cli('delete', 'ci1', '--force', '--quiet');
    await d.cli('image', 'delete', 'deb-ci', '--quiet');
  }
}
