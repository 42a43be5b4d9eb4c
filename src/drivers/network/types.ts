/** One virtual network as the network driver sees it (rendered from the store's desired state). */
export interface NetworkSpec {
  /** nimbo's name of the network (e.g. "default"). */
  name: string;
  /** Linux bridge device name (at most 15 characters). */
  bridge: string;
  /** IPv4 CIDR block of the network, e.g. 10.77.0.0/24. */
  subnet: string;
  /** The host's address on the bridge; DHCP/DNS server and, with NAT, the guests' router. */
  gateway: string;
  /** Masquerade guest traffic leaving the host through any other interface. */
  nat: boolean;
  /** DNS domain: `<hostname>.<domain>` resolves to a reserved address. */
  domain: string;
  /** Directory for dnsmasq.conf, dhcp-hosts, addn-hosts, leases and the pid file. */
  stateDir: string;
  /** Name of this daemon's nft table (e.g. nimbo_ab); all networks of one daemon share it. */
  nftTable: string;
}

/** A static DHCP lease: the only way a guest gets an address on a nimbo network. */
export interface Reservation {
  mac: string;
  ip: string;
  hostname: string;
}

/** A network driver: makes virtual networks and guest NIC backends exist on this host. */
export interface NetworkDriver {
  /** Create or repair the network (idempotent) and serve exactly these reservations. */
  ensure(spec: NetworkSpec, reservations: Reservation[]): Promise<void>;
  /** Replace the network's DHCP reservations and DNS names without disturbing anything else. */
  setReservations(spec: NetworkSpec, reservations: Reservation[]): Promise<void>;
  /** Tear the network down: DHCP/DNS server, bridge, state files, its firewall rules. */
  remove(spec: NetworkSpec): Promise<void>;
  /**
   * Declare the complete list of this daemon's networks and render the nft table(s) from it
   * (NAT, isolation between networks, DHCP/DNS to the host); call it after a daemon restart.
   */
  applyFirewall(specs: NetworkSpec[]): Promise<void>;
  /** Delete an nft table of this daemon (no error when absent) and forget the networks that used it. */
  removeFirewall(table: string): Promise<void>;
  /** Create a tap device (owned by `owner` when given) and attach it to `bridge`, up. */
  createTap(tap: string, bridge: string, owner?: string): Promise<void>;
  /** Delete a tap device; no error when it does not exist. */
  deleteTap(tap: string): Promise<void>;
  /** True when a network device named `tap` exists. */
  tapExists(tap: string): Promise<boolean>;
}
