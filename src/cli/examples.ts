/** The "Examples:" of the major commands: one table, shown by `--help` and written into docs/cli.md. */
import type { Command } from 'commander';

/** One example: what it does, and the command line. */
export interface Example {
  note: string;
  cmd: string;
}

/** Examples by command path ("network forward add"). */
export const EXAMPLES: Record<string, Example[]> = {
  launch: [
    { note: 'a VM from the built-in tiny image', cmd: 'nimbo launch tiny vm1' },
    { note: 'a Debian VM with 2 CPUs, 2 GiB of memory and a 20 GiB disk', cmd: 'nimbo launch debian-12 web --cpus 2 --memory 2GiB --disk 20GiB' },
    { note: 'a system container on a second network with a fixed address', cmd: 'nimbo launch debian-12 ct1 --container --network default --network back=10.64.1.10' },
    { note: 'an application container from an imported OCI image, with its own command', cmd: 'nimbo launch nginx app1 --app --env MODE=prod -- nginx -g "daemon off;"' },
    { note: 'create only, with a label, and print the final operation as JSON', cmd: 'nimbo launch tiny vm2 --no-start --label tier=test -o json' },
  ],
  list: [
    { note: 'every instance', cmd: 'nimbo list' },
    { note: 'running containers, names only, for a script', cmd: 'nimbo list --filter state=running --filter type=container --columns name --no-header' },
    { note: 'instances on network back, as JSON', cmd: 'nimbo list --filter network=back -o json' },
    { note: 'instances launched with --label tier=web', cmd: 'nimbo list --filter label.tier=web' },
    { note: 'running or paused instances (a repeated key matches either)', cmd: 'nimbo list --filter state=running --filter state=paused --columns name,state,addresses' },
  ],
  info: [{ note: 'one instance with its NICs and snapshot schedule, as YAML', cmd: 'nimbo info web -o yaml' }],
  stop: [
    { note: 'stop several instances; a line each', cmd: 'nimbo stop web db' },
    { note: 'stop at once, without the ACPI shutdown', cmd: 'nimbo stop web --force' },
    { note: 'give the guest 120 s to shut down before a hard stop', cmd: 'nimbo stop web --timeout 120' },
  ],
  delete: [
    { note: 'delete a stopped instance', cmd: 'nimbo delete web' },
    { note: 'stop and delete running instances', cmd: 'nimbo delete web db --force' },
  ],
  exec: [
    { note: 'run a command in a container; its exit code becomes nimbo\'s', cmd: 'nimbo exec ct1 -- uname -a' },
    { note: 'an interactive shell on a pseudo-terminal (Ctrl-] detaches)', cmd: 'nimbo exec -t ct1 -- /bin/sh' },
    { note: 'pipe data in', cmd: 'nimbo exec ct1 -- tar -x -C /srv < site.tar' },
  ],
  console: [
    { note: 'attach to the serial console (Ctrl-] detaches)', cmd: 'nimbo console vm1' },
    { note: 'print the last 4 KiB of console output and exit', cmd: 'nimbo console vm1 --log --bytes 4096' },
  ],
  'snapshot create': [
    { note: 'a disk snapshot with an automatic name', cmd: 'nimbo snapshot create web' },
    { note: 'a VM snapshot with its memory, deleted after a week', cmd: 'nimbo snapshot create web before-upgrade --stateful --expiry 7d' },
  ],
  'snapshot schedule': [
    { note: 'a snapshot every day at 02:30 UTC on weekdays, kept two weeks', cmd: 'nimbo snapshot schedule web "30 2 * * MON-FRI" --expiry 2w' },
    { note: 'read it back', cmd: 'nimbo snapshot schedule show web' },
    { note: 'stop it', cmd: 'nimbo snapshot schedule web --off' },
  ],
  'plan create': [
    { note: 'a shared plan: 2 vCPUs, 2 GiB, 40 GiB, 200 Mbit/s each way, 100 MiB/s disk', cmd: 'nimbo plan create s-2x --vcpus 2 --memory 2048 --disk 40 --price 0.03 --net-in 200 --net-out 200 --disk-read-bps 104857600 --disk-write-bps 104857600' },
    { note: 'a dedicated plan: 1 pinned core, 1 GiB reserved', cmd: 'nimbo plan create d-1x --class dedicated --vcpus 1 --memory 1024 --disk 20 --price 0.04' },
  ],
  'quota set': [
    { note: "at most 10 instances and 16 vCPUs in the request's project; no limit on snapshots", cmd: 'nimbo quota set instances=10 vcpus=16 snapshots=unlimited' },
  ],
  'network create': [
    { note: 'a NAT network with a free /24', cmd: 'nimbo network create back' },
    { note: 'an isolated network with a chosen subnet and no IPv6', cmd: 'nimbo network create lab --mode isolated --subnet 10.64.9.0/24 --ipv6 none' },
    { note: 'a VXLAN network spanning two hosts (run on each, with its own --local and --gateway)', cmd: 'nimbo network create span --vni 42 --local 192.0.2.1 --peer 192.0.2.2 --subnet 10.64.20.0/24 --gateway 10.64.20.1' },
  ],
  'network forward add': [
    { note: "the host's port 2222 on loopback to web's SSH", cmd: 'nimbo network forward add default 127.0.0.1:2222 web:22' },
    { note: 'a UDP port range', cmd: 'nimbo network forward add default 203.0.113.5:5000-5010 web:5000 --protocol udp' },
    { note: 'a floating IP: every port of a host address to web', cmd: 'nimbo network forward add default 203.0.113.9 web' },
  ],
  'firewall group rule add': [
    { note: 'allow SSH from one block', cmd: 'nimbo firewall group rule add web --port 22 --source 198.51.100.0/24' },
    { note: 'allow HTTPS from anywhere, with a rule id of your choice', cmd: 'nimbo firewall group rule add web --port 443 --id https' },
    { note: 'let members of group app reach this group on 5432', cmd: 'nimbo firewall group rule add db --port 5432 --source-group app' },
  ],
  'firewall group attach': [{ note: 'apply group web to every NIC of instance web1', cmd: 'nimbo firewall group attach web web1' }],
  'storage pool create': [
    { note: 'a directory pool on the daemon\'s host', cmd: 'nimbo storage pool create fast --driver dir --path /srv/nimbo-fast' },
    { note: 'a btrfs pool (linked clones and cheap snapshots)', cmd: 'nimbo storage pool create bt --driver btrfs --path /mnt/btrfs/nimbo' },
  ],
  'storage volume create': [
    { note: 'a 10 GiB block volume (a disk for VMs)', cmd: 'nimbo storage volume create default data --size 10GiB' },
    { note: 'a filesystem volume for containers', cmd: 'nimbo storage volume create default shared --size 5GiB --kind filesystem' },
  ],
  'storage volume attach': [
    { note: 'a block volume to a VM (hot-plugged when it runs)', cmd: 'nimbo storage volume attach web default data' },
    { note: 'a filesystem volume into a container at /srv/data', cmd: 'nimbo storage volume attach ct1 default shared --path /srv/data' },
  ],
  'storage volume list': [{ note: 'volumes of pool default that no instance uses', cmd: 'nimbo storage volume list default --filter attached=-' }],
  'image build': [
    { note: 'the small test image', cmd: 'nimbo image build tiny' },
    { note: 'Debian 12 under another name', cmd: 'nimbo image build deb --builder debian-12' },
  ],
  'image publish': [{ note: 'a golden image from the stopped VM web (then: nimbo launch web-golden web2)', cmd: 'nimbo image publish web web-golden' }],
  'image snapshot': [{ note: 'a warm template of the running VM web (then: nimbo launch web2 --image web-warm)', cmd: 'nimbo image snapshot web-warm --from-running web' }],
  'image list': [{ note: 'ready images, names only', cmd: 'nimbo image list --filter status=ready --columns name --no-header' }],
  rename: [{ note: 'rename a running instance; its addresses, snapshots and DNS name follow', cmd: 'nimbo rename web web-old' }],
  update: [
    { note: 'a description and a label (other labels stay)', cmd: 'nimbo update web --description "front end" --label tier=web' },
    { note: 'start it after every host reboot, whatever it was doing', cmd: 'nimbo update web --autostart always' },
    { note: 'more CPUs and memory for a stopped instance, printing it as JSON', cmd: 'nimbo update db --cpus 4 --memory 8GiB -o json' },
  ],
  rebuild: [{ note: 'a fresh Debian root for web; its addresses, keys and volumes stay', cmd: 'nimbo rebuild web debian-12' }],
  rescue: [
    { note: "boot the tiny rescue system with web's own disk as /dev/vdc (log in with nimbo console web)", cmd: 'nimbo rescue web' },
    { note: 'a Debian rescue system instead', cmd: 'nimbo rescue web --image debian-12' },
  ],
  unrescue: [{ note: 'boot web from its own disk again', cmd: 'nimbo unrescue web' }],
  resize: [
    { note: 'grow the disk of a running instance', cmd: 'nimbo resize web --disk 40GiB' },
    { note: 'a stopped instance to plan m2 (CPUs, memory and disk)', cmd: 'nimbo resize web --plan m2' },
  ],
  'reset-password': [
    { note: 'a new random root password, printed once', cmd: 'nimbo reset-password web' },
    { note: 'your own, read from stdin', cmd: 'nimbo reset-password web --password-stdin < root-password.txt' },
  ],
  'set-keys': [{ note: "replace root's SSH keys with two", cmd: 'nimbo set-keys web --ssh-key ~/.ssh/id_ed25519.pub --ssh-key team.pub' }],
  copy: [
    { note: 'copy a stopped instance', cmd: 'nimbo copy web web2' },
    { note: 'copy a snapshot of a running instance and start the copy', cmd: 'nimbo copy web web-test --snapshot before-upgrade --start' },
  ],
  events: [
    { note: 'state changes of instances, as a table', cmd: 'nimbo events --type instance.state' },
    { note: 'failed operations and image events, one JSON object per line', cmd: 'nimbo events --type operation.failure,image -o json' },
  ],
  'operation list': [{ note: 'operations that failed', cmd: 'nimbo operation list --filter status=failure' }],
  login: [
    { note: 'log in (the password is asked without echo); the token is stored for the current remote', cmd: 'nimbo login --user alice' },
    { note: 'from a script: the password as a line on stdin, never as a flag', cmd: 'nimbo login --user ci --expires 30d < password.txt' },
  ],
  'token create': [
    { note: 'a read-only token for monitoring, limited to one project, for 30 days', cmd: 'nimbo token create grafana --read-only --project shop --expires 30d' },
    { note: 'a read-write token for CI, printed as JSON (the secret is in it, once)', cmd: 'nimbo token create ci -o json' },
  ],
  'user create': [
    { note: 'a user whose requests run in project shop (the password is asked twice)', cmd: 'nimbo user create alice --default-project shop' },
    { note: 'an operator (hosts, pools, plans; no tenant data)', cmd: 'nimbo user create ops1 --role operator' },
  ],
  'project member add': [
    { note: 'make alice an owner of shop', cmd: 'nimbo project member add shop alice --role owner' },
    { note: 'give bob read access', cmd: 'nimbo project member add shop bob --role viewer' },
  ],
  up: [
    { note: 'daemon, tiny image and a demo VM', cmd: 'sudo ./nimbo up' },
    { note: 'without the demo VM, in another state dir', cmd: 'sudo ./nimbo up --no-demo --state-dir /srv/nimbo' },
  ],
};

/** The path of a command from the root, without the program name: "network forward add". */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** The Examples block of a command path ('' when it has none). */
export function examplesText(path: string): string {
  const ex = EXAMPLES[path];
  if (!ex?.length) return '';
  return `\nExamples:\n${ex.map((e) => `  # ${e.note}\n  $ ${e.cmd}`).join('\n')}\n`;
}

const attached = new WeakSet<Command>();

/** Add the Examples block to the help of `root` and every command under it that has examples (once each). */
export function attachExamples(root: Command): void {
  const text = examplesText(commandPath(root));
  if (text && !attached.has(root)) {
    attached.add(root);
    root.addHelpText('after', text);
  }
  for (const c of root.commands) attachExamples(c);
}
