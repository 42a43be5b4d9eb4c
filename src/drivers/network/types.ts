import type { Port, SecurityGroup } from './firewall/sg-model.js';
import type { FloatingIp, PortForward } from './firewall/fwd-model.js';

/** How a bridge network reaches the outside: masquerade, plain routing, or not at all. */
export type NetworkMode = 'nat' | 'routed' | 'isolated';

/** The IPv6 side of a network: one /64 (ULA by default), the host's address on the bridge. */
export interface Ipv6Spec {
  /** The /64 prefix, e.g. fd12:3456:789a:1::/64 (SLAAC needs exactly /64). */
  subnet: string;
  /** The host's address on the bridge inside `subnet` (router, DNS). */
  gateway: string;
}

/** A VXLAN segment that carries the bridge's L2 to peer hosts (unicast, static forwarding entries). */
export interface VxlanSpec {
  /** The vxlan device name (at most 15 characters), a port of the network's bridge. */
  device: string;
  /** VXLAN network identifier 1..16777215. */
  vni: number;
  /** This host's underlay IPv4 address (source of the UDP tunnel). */
  local: string;
  /** UDP port (4789 by default). */
  port: number;
  /** Underlay IPv4 addresses of the peer hosts; each gets one all-zero-MAC forwarding entry. */
  peers: string[];
}

/** One virtual network as the network driver sees it (rendered from the store's desired state). */
export interface NetworkSpec {
  /** nimbo's name of the network (e.g. "default"). */
  name: string;
  /** Linux bridge device name (at most 15 characters). */
  bridge: string;
  /** IPv4 CIDR block of the network, e.g. 10.77.0.0/24. */
  subnet: string;
  /** The host's address on the bridge; DHCP/DNS server and, unless isolated, the guests' router. */
  gateway: string;
  /** nat: masquerade out through the host; routed: forwarded without NAT; isolated: no way out. */
  mode: NetworkMode;
  /** IPv6 (SLAAC + stateless DHCPv6 for DNS from dnsmasq); absent = IPv4 only. */
  ipv6?: Ipv6Spec;
  /** Present for overlay networks: the bridge also has a VXLAN port toward peer hosts. */
  vxlan?: VxlanSpec;
  /** DNS domain: `<hostname>.<domain>` resolves to a reserved address. */
  domain: string;
  /** Directory for dnsmasq.conf, dhcp-hosts, addn-hosts, leases and the pid file. */
  stateDir: string;
  /** Name of this daemon's nft tables (e.g. nimbo_ab); all networks of one daemon share them. */
  nftTable: string;
}

/** A static DHCP lease: the only way a guest gets an address on a nimbo network. */
export interface Reservation {
  mac: string;
  ip: string;
  hostname: string;
  /** The NIC's IPv6 address (SLAAC, from the MAC) for AAAA records; absent on IPv4-only networks. */
  ipv6?: string;
}

/** One instance NIC's way to the metadata service (rendered by metadata-nft.ts). */
export interface MetadataEndpoint {
  /** The bridge the NIC is on. */
  bridge: string;
  /** The NIC's allocated IPv4 address (no prefix). */
  address: string;
  /** The network's gateway (the host's address on the bridge), where nimbod listens. */
  gateway: string;
  /** The port nimbod serves this NIC on. */
  port: number;
}

/** Everything above networks that the daemon's ruleset holds: security groups, ports, forwards, floating IPs. */
export interface FirewallPolicy {
  groups: SecurityGroup[];
  ports: Port[];
  forwards: PortForward[];
  floating: FloatingIp[];
  /** Instance NICs' ways to the metadata service (metadata-nft.ts); absent = none. */
  metadata?: MetadataEndpoint[];
}

/** An empty policy: no ports are filtered, nothing is forwarded. */
export const EMPTY_POLICY: FirewallPolicy = { groups: [], ports: [], forwards: [], floating: [] };

/** A veth pair of a container NIC: `host` on `bridge`, `peer` (with `mac`) inside the container's namespace. */
export interface VethSpec {
  host: string;
  bridge: string;
  peer: string;
  mac: string;
}

/** What else plugNetns sets up: the namespace's name for a process's netns, addresses, a default route. */
export interface NetnsSetup {
  attachPid?: number;
  addresses?: { dev: string; cidr: string }[];
  defaultRoute?: { via: string; dev: string };
}

/** A network driver: makes virtual networks and guest NIC backends exist on this host. */
export interface NetworkDriver {
  /** Create or repair the network (idempotent) and serve exactly these reservations. */
  ensure(spec: NetworkSpec, reservations: Reservation[]): Promise<void>;
  /** Replace the network's DHCP reservations and DNS names without disturbing anything else. */
  setReservations(spec: NetworkSpec, reservations: Reservation[]): Promise<void>;
  /** Tear the network down: DHCP/DNS server, bridge, VXLAN port, state files, its firewall rules. */
  remove(spec: NetworkSpec): Promise<void>;
  /**
   * Declare the complete list of this daemon's networks and render the nft ruleset from it
   * (NAT, isolation between networks, DHCP/DNS to the host); call it after a daemon restart.
   */
  applyFirewall(specs: NetworkSpec[]): Promise<void>;
  /** Set the policy (security groups, ports, forwards, floating IPs) of one nft table and re-apply it atomically. */
  setPolicy(table: string, policy: FirewallPolicy): Promise<void>;
  /** Delete the nft tables of this daemon (no error when absent) and forget the networks that used them. */
  removeFirewall(table: string): Promise<void>;
  /** Create a tap device (owned by `owner` when given) and attach it to `bridge`, up. */
  createTap(tap: string, bridge: string, owner?: string): Promise<void>;
  /**
   * Wire a container's network namespace `netns`: optionally name it after process
   * `setup.attachPid`'s first, then one veth pair per entry (host end on its bridge, peer with
   * its MAC inside), lo and the peers up, and the addresses and default route of `setup`.
   * Idempotent for veths already there; a failure removes the veths it made.
   */
  plugNetns(netns: string, veths: VethSpec[], setup?: NetnsSetup): Promise<void>;
  /** Delete a tap (or a container's veth) device; no error when it does not exist. */
  deleteTap(tap: string): Promise<void>;
  /** True when a network device named `tap` exists. */
  tapExists(tap: string): Promise<boolean>;
}
