/** `nimbo network ...`: networks, leases, forwards, and NICs of instances (attach/detach/set). */
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { Instance } from '../../shared/api-types.js';
import type { Forward, ForwardCreate, Lease, Network, NetworkCreate, NicAttach, NicPatch } from '../../shared/network-types.js';
import { CliError, EXIT } from '../errors.js';
import { outputOption, renderDetail, renderList } from '../output.js';
import { renderFilteredList, withListOptions, type ListOptions } from '../list-view.js';
import { forwardColumns, leaseColumns, networkColumns, networkFields, networkFilterKeys } from '../network-views.js';
import { collect, intInRange, parseName } from '../validate.js';
import { clientFor, finishOperation, formatOf, out, outResult, withWaitOptions, writeOutputOption, type WaitOptions } from './common.js';
import { attachExamples } from '../examples.js';

const name = (what: string) => (v: string) => parseName(v, what);
const enc = encodeURIComponent;

/** "ADDR:PORT[-END]" or "ADDR" (a floating IP) → listen parts. */
export function parseListen(text: string): { listenAddress: string; listenPort?: number; listenPortEnd?: number } {
  const m = /^([0-9.]+)(?::([0-9]{1,5})(?:-([0-9]{1,5}))?)?$/.exec(text);
  if (!m) throw new InvalidArgumentError(`"${text}" is not ADDRESS, ADDRESS:PORT or ADDRESS:PORT-END (e.g. 127.0.0.1:2222)`);
  return { listenAddress: m[1]!, ...(m[2] ? { listenPort: Number(m[2]) } : {}), ...(m[3] ? { listenPortEnd: Number(m[3]) } : {}) };
}

/** "INSTANCE[/NIC][:PORT]" → target parts. */
export function parseTarget(text: string): { instance: string; nic?: string; targetPort?: number } {
  const m = /^([a-z][a-z0-9-]*)(?:\/(eth[0-9]{1,2}))?(?::([0-9]{1,5}))?$/.exec(text);
  if (!m) throw new InvalidArgumentError(`"${text}" is not INSTANCE, INSTANCE:PORT or INSTANCE/NIC:PORT (e.g. web:22)`);
  return { instance: m[1]!, ...(m[2] ? { nic: m[2] } : {}), ...(m[3] ? { targetPort: Number(m[3]) } : {}) };
}

/** Build POST /networks/NAME/forwards from `forward add` arguments. */
export function forwardBody(listen: string, target: string, o: { protocol?: 'tcp' | 'udp'; description?: string }): ForwardCreate {
  const l = parseListen(listen);
  const t = parseTarget(target);
  if (l.listenPort === undefined && (t.targetPort !== undefined || o.protocol)) {
    throw new CliError('a floating IP (no listen port) maps every port: leave out the target port and --protocol');
  }
  return { ...l, ...t, ...(o.protocol ? { protocol: o.protocol } : {}), ...(o.description ? { description: o.description } : {}) };
}

interface CreateOptions extends WaitOptions {
  type?: 'bridge' | 'vxlan';
  mode?: 'nat' | 'routed' | 'isolated';
  subnet?: string;
  gateway?: string;
  ipv6?: string;
  vni?: number;
  local?: string;
  peer?: string[];
  vxlanPort?: number;
  description?: string;
}

/** Build POST /networks from `network create` arguments. */
export function networkCreateBody(netName: string, o: Omit<CreateOptions, 'wait' | 'quiet'>): NetworkCreate {
  const body: NetworkCreate = { name: netName };
  if (o.mode) body.mode = o.mode;
  if (o.subnet) body.subnet = o.subnet;
  if (o.gateway) body.gateway = o.gateway;
  if (o.ipv6) body.ipv6 = o.ipv6;
  if (o.description) body.description = o.description;
  const vx = o.vni !== undefined || o.local !== undefined || (o.peer?.length ?? 0) > 0 || o.type === 'vxlan';
  if (vx) {
    if (o.type === 'bridge') throw new CliError('--vni, --local, --peer and --vxlan-port make a vxlan network: drop --type bridge', { exitCode: EXIT.usage });
    if (o.vni === undefined || o.local === undefined) throw new CliError('a vxlan network needs --vni and --local (and --peer for each other host)');
    body.type = 'vxlan';
    body.vxlan = { vni: o.vni, local: o.local, peers: o.peer ?? [], ...(o.vxlanPort !== undefined ? { port: o.vxlanPort } : {}) };
  } else if (o.type) body.type = o.type;
  return body;
}

/** Register `nimbo network ...`. */
export function registerNetworkCommands(program: Command): void {
  const net = program.command('network').description('virtual networks, their leases and forwards; NICs of instances');
  withWaitOptions(
    net
      .command('create')
      .description('create a network (bridge by default; vxlan with --vni/--local/--peer)')
      .argument('<name>', 'network name (DNS label; also its DNS domain)', name('network name'))
      .addOption(new Option('--mode <mode>', 'nat: out through the host; routed: no NAT; isolated: no way out').choices(['nat', 'routed', 'isolated']))
      .addOption(new Option('--type <type>', 'bridge or vxlan').choices(['bridge', 'vxlan']))
      .option('--subnet <cidr>', 'IPv4 subnet, /29 or larger (default: a free /24 in 10.64.0.0/10)')
      .option('--gateway <ip>', "this host's address in the subnet (default .1; vxlan: a different one of .1-.8 on each host)")
      .option('--ipv6 <cidr|auto|none>', 'IPv6 /64 (default auto: a ULA /64)')
      .option('--vni <n>', 'VXLAN network identifier', intInRange('--vni', 1, 16777215))
      .option('--local <ip>', "this host's underlay address for VXLAN")
      .option('--peer <ip>', "another host's underlay address (repeatable)", collect)
      .option('--vxlan-port <port>', 'VXLAN UDP port (default 4789)', intInRange('--vxlan-port', 1, 65535))
      .option('--description <text>', 'free text'),
  ).action(async (n: string, o: CreateOptions, cmd: Command) => {
    const client = clientFor(cmd);
    const op = await client.operation('POST', '/networks', { body: networkCreateBody(n, o) });
    await finishOperation(op, client, o, async () => {
      const v = await client.json<Network>('GET', `/networks/${enc(n)}`);
      return `Created network ${n} (${v.mode}, ${v.subnet}${v.ipv6 ? `, ${v.ipv6.subnet}` : ''})`;
    });
  });
  withListOptions(net.command('list').alias('ls').description('list networks').addOption(outputOption()), networkColumns(), Object.keys(networkFilterKeys)).action(
    async (o: ListOptions, cmd: Command) => {
      const networks = await clientFor(cmd).listAll<Network>('/networks', 'networks');
      out(renderFilteredList(networks, networkColumns(), networkFilterKeys, o));
    },
  );
  net.command('info').description('show a network').argument('<name>', 'network name', name('network name')).addOption(outputOption()).action(async (n: string, _o: unknown, cmd: Command) => {
    const v = await clientFor(cmd).json<Network>('GET', `/networks/${enc(n)}`);
    out(renderDetail(v, networkFields(v), formatOf(cmd)));
  });
  withWaitOptions(net.command('delete').alias('rm').description('delete a network no instance uses').argument('<name>', 'network name', name('network name'))).action(
    async (n: string, o: WaitOptions, cmd: Command) => {
      const client = clientFor(cmd);
      await finishOperation(await client.operation('DELETE', `/networks/${enc(n)}`), client, o, () => `Deleted network ${n}`);
    },
  );
  net.command('leases').description('addresses allocated on a network').argument('<name>', 'network name', name('network name')).addOption(outputOption()).action(async (n: string, _o: unknown, cmd: Command) => {
    const leases = await clientFor(cmd).listAll<Lease>(`/networks/${enc(n)}/leases`, 'leases');
    out(renderList(leases, leaseColumns(), formatOf(cmd)));
  });

  const fwd = net.command('forward').description('port forwards (host address:port → instance:port) and floating IPs (host address ↔ instance)');
  fwd
    .command('add')
    .description('forward LISTEN (ADDR:PORT[-END], or ADDR alone for a floating IP) to TARGET (INSTANCE[/NIC][:PORT])')
    .argument('<network>', 'network of the target NIC', name('network name'))
    .argument('<listen>', 'e.g. 127.0.0.1:2222, 203.0.113.5:8000-8010, or 203.0.113.9 (floating IP)')
    .argument('<target>', 'e.g. web:22, web/eth1:80, or web (floating IP)')
    .addOption(new Option('--protocol <p>', 'tcp or udp (default tcp)').choices(['tcp', 'udp']))
    .option('--description <text>', 'free text')
    .addOption(writeOutputOption('the Forward'))
    .action(async (n: string, listen: string, target: string, o: { protocol?: 'tcp' | 'udp'; description?: string }, cmd: Command) => {
      const f = await clientFor(cmd).json<Forward>('POST', `/networks/${enc(n)}/forwards`, { body: forwardBody(listen, target, o) });
      outResult(formatOf(cmd), f, `Added ${f.kind === 'floating' ? 'floating IP' : 'forward'} ${f.id} → ${f.targetAddress}`);
    });
  fwd.command('list').alias('ls').description('list the forwards of a network').argument('<network>', 'network name', name('network name')).addOption(outputOption()).action(async (n: string, _o: unknown, cmd: Command) => {
    const forwards = await clientFor(cmd).listAll<Forward>(`/networks/${enc(n)}/forwards`, 'forwards');
    out(renderList(forwards, forwardColumns(), formatOf(cmd)));
  });
  fwd.command('delete').alias('rm').description('remove a forward by id (see forward list)').argument('<network>', 'network name', name('network name')).argument('<id>', 'forward id').action(async (n: string, id: string, _o: unknown, cmd: Command) => {
    await clientFor(cmd).json('DELETE', `/networks/${enc(n)}/forwards/${enc(id)}`);
    out(`Deleted forward ${id}`);
  });

  withWaitOptions(
    net
      .command('attach')
      .description('give an instance a NIC on a network (hot-plugged when it runs)')
      .argument('<instance>', 'instance name', name('instance name'))
      .argument('<network>', 'network name', name('network name'))
      .option('--address <ip>', 'a fixed IPv4 address (default: the first free one)')
      .option('--security-group <name>', 'security group (repeatable; default: default)', collect)
      .option('--ingress <rate>', 'bandwidth limit toward the instance, e.g. 100mbit')
      .option('--egress <rate>', 'bandwidth limit from the instance, e.g. 20mbit'),
  ).action(async (inst: string, n: string, o: WaitOptions & { address?: string; securityGroup?: string[]; ingress?: string; egress?: string }, cmd: Command) => {
    const client = clientFor(cmd);
    const body: NicAttach = { network: n };
    if (o.address) body.address = o.address;
    if (o.securityGroup) body.securityGroups = o.securityGroup;
    if (o.ingress) body.ingress = o.ingress;
    if (o.egress) body.egress = o.egress;
    await finishOperation(await client.operation('POST', `/instances/${enc(inst)}/nics`, { body }), client, o, async () => {
      const v = await client.json<Instance>('GET', `/instances/${enc(inst)}`);
      const nic = v.nics.filter((x) => x.network === n).at(-1);
      return nic ? `Attached ${inst}/${nic.name} to ${n} (${nic.address})` : `Attached ${inst} to ${n}`;
    });
  });
  withWaitOptions(
    net
      .command('detach')
      .description("remove an instance's NIC from a network (unplugged live when it was hot-plugged)")
      .argument('<instance>', 'instance name', name('instance name'))
      .argument('<network>', 'network name', name('network name'))
      .option('--nic <nic>', 'which NIC when the instance has several on the network'),
  ).action(async (inst: string, n: string, o: WaitOptions & { nic?: string }, cmd: Command) => {
    const client = clientFor(cmd);
    const v = await client.json<Instance>('GET', `/instances/${enc(inst)}`);
    const on = v.nics.filter((x) => x.network === n && (o.nic === undefined || x.name === o.nic));
    if (on.length === 0) throw new CliError(`instance ${inst} has no NIC${o.nic ? ` ${o.nic}` : ''} on network ${n}`);
    if (on.length > 1) throw new CliError(`instance ${inst} has ${on.length} NICs on ${n} (${on.map((x) => x.name).join(', ')}): pick one with --nic`);
    await finishOperation(await client.operation('DELETE', `/instances/${enc(inst)}/nics/${on[0]!.name}`), client, o, () => `Detached ${inst}/${on[0]!.name} from ${n}`);
  });
  net
    .command('limit')
    .description("set a NIC's bandwidth limits, live (0 = unlimited)")
    .argument('<instance>', 'instance name', name('instance name'))
    .argument('<nic>', 'NIC name, e.g. eth0')
    .option('--ingress <rate>', 'toward the instance, e.g. 100mbit')
    .option('--egress <rate>', 'from the instance, e.g. 20mbit')
    .addOption(writeOutputOption('the Instance after the change'))
    .action(async (inst: string, nic: string, o: { ingress?: string; egress?: string }, cmd: Command) => {
      if (o.ingress === undefined && o.egress === undefined) throw new CliError('nothing to set: give --ingress and/or --egress');
      const body: NicPatch = { ...(o.ingress !== undefined ? { ingress: o.ingress } : {}), ...(o.egress !== undefined ? { egress: o.egress } : {}) };
      const v = await clientFor(cmd).json<Instance>('PATCH', `/instances/${enc(inst)}/nics/${enc(nic)}`, { body });
      outResult(formatOf(cmd), v, `Set limits of ${inst}/${nic}`);
    });
  attachExamples(net);
}
