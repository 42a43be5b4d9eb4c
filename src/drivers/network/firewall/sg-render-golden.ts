// The expected full script of sg-render.test.ts's golden test (smallCase: two groups, three ports).

/** Golden nft script for smallCase. */
export const GOLDEN = `# nimbo: the ruleset of one nimbo daemon; generated, do not edit
table inet nimbo {}
delete table inet nimbo
table bridge nimbo {}
delete table bridge nimbo
table inet nimbo {
	# security groups, layer 3: stateful, keyed by port addresses (trustworthy thanks to the bridge part)
	set sg_addr4 {
		type ipv4_addr
		elements = {
			10.77.0.10,
			10.77.0.20,
			10.77.0.11,
			10.77.0.12
		}
	}
	set sg_addr6 {
		type ipv6_addr
		elements = {
			fd00:77::10,
			fd00:77::20,
			fd00:77::11
		}
	}
	map sg_in4 {
		type ipv4_addr : verdict
		elements = {
			10.77.0.10 : jump sg_p0_in,
			10.77.0.20 : jump sg_p0_in,
			10.77.0.11 : jump sg_p1_in,
			10.77.0.12 : drop
		}
	}
	map sg_in6 {
		type ipv6_addr : verdict
		elements = {
			fd00:77::10 : jump sg_p0_in,
			fd00:77::20 : jump sg_p0_in,
			fd00:77::11 : jump sg_p1_in
		}
	}
	map sg_out4 {
		type ipv4_addr : verdict
		elements = {
			10.77.0.10 : jump sg_p0_out,
			10.77.0.20 : jump sg_p0_out
		}
	}
	map sg_out6 {
		type ipv6_addr : verdict
		elements = {
			fd00:77::10 : jump sg_p0_out,
			fd00:77::20 : jump sg_p0_out
		}
	}
	# group admin, ingress
	set sg_g0_in4_l4 {
		type ipv4_addr . inet_proto . inet_service
		flags interval
		elements = {
			192.168.1.0/24 . tcp . 20-30
		}
	}
	set sg_g0_in4_icmp {
		type ipv4_addr
		flags interval
	}
	set sg_g0_in4_all {
		type ipv4_addr
		flags interval
	}
	set sg_g0_in6_l4 {
		type ipv6_addr . inet_proto . inet_service
		flags interval
	}
	set sg_g0_in6_icmp {
		type ipv6_addr
		flags interval
	}
	set sg_g0_in6_all {
		type ipv6_addr
		flags interval
	}
	# group admin, egress
	set sg_g0_out4_l4 {
		type ipv4_addr . inet_proto . inet_service
		flags interval
		elements = {
			10.77.0.1 . udp . 53
		}
	}
	set sg_g0_out4_icmp {
		type ipv4_addr
		flags interval
	}
	set sg_g0_out4_all {
		type ipv4_addr
		flags interval
		elements = {
			10.77.0.10/31,
			10.77.0.20
		}
	}
	set sg_g0_out6_l4 {
		type ipv6_addr . inet_proto . inet_service
		flags interval
		elements = {
			fd00:77::1 . udp . 53
		}
	}
	set sg_g0_out6_icmp {
		type ipv6_addr
		flags interval
	}
	set sg_g0_out6_all {
		type ipv6_addr
		flags interval
		elements = {
			fd00:77::10/127,
			fd00:77::20
		}
	}
	# group web, ingress
	set sg_g1_in4_l4 {
		type ipv4_addr . inet_proto . inet_service
		flags interval
		elements = {
			0.0.0.0-9.255.255.255 . tcp . 80,
			10.0.0.0/8 . tcp . 80,
			10.0.0.0/8 . tcp . 443,
			11.0.0.0-255.255.255.255 . tcp . 80
		}
	}
	set sg_g1_in4_icmp {
		type ipv4_addr
		flags interval
		elements = {
			10.77.0.10,
			10.77.0.20
		}
	}
	set sg_g1_in4_all {
		type ipv4_addr
		flags interval
	}
	set sg_g1_in6_l4 {
		type ipv6_addr . inet_proto . inet_service
		flags interval
		elements = {
			::-2001:db8:0:ffff:ffff:ffff:ffff:ffff . tcp . 80,
			2001:db8:1::/48 . tcp . 80,
			2001:db8:1::/48 . tcp . 443,
			2001:db8:2::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff . tcp . 80
		}
	}
	set sg_g1_in6_icmp {
		type ipv6_addr
		flags interval
		elements = {
			fd00:77::10,
			fd00:77::20
		}
	}
	set sg_g1_in6_all {
		type ipv6_addr
		flags interval
	}
	# group web, egress
	set sg_g1_out4_l4 {
		type ipv4_addr . inet_proto . inet_service
		flags interval
	}
	set sg_g1_out4_icmp {
		type ipv4_addr
		flags interval
	}
	set sg_g1_out4_all {
		type ipv4_addr
		flags interval
	}
	set sg_g1_out6_l4 {
		type ipv6_addr . inet_proto . inet_service
		flags interval
	}
	set sg_g1_out6_icmp {
		type ipv6_addr
		flags interval
	}
	set sg_g1_out6_all {
		type ipv6_addr
		flags interval
	}
	# group admin, ingress
	chain sg_g0_in {
		ip saddr . meta l4proto . th dport @sg_g0_in4_l4 accept
		meta l4proto icmp ip saddr @sg_g0_in4_icmp accept
		ip saddr @sg_g0_in4_all accept
		ip6 saddr . meta l4proto . th dport @sg_g0_in6_l4 accept
		meta l4proto ipv6-icmp ip6 saddr @sg_g0_in6_icmp accept
		ip6 saddr @sg_g0_in6_all accept
	}
	# group admin, egress
	chain sg_g0_out {
		ip daddr . meta l4proto . th dport @sg_g0_out4_l4 accept
		meta l4proto icmp ip daddr @sg_g0_out4_icmp accept
		ip daddr @sg_g0_out4_all accept
		ip6 daddr . meta l4proto . th dport @sg_g0_out6_l4 accept
		meta l4proto ipv6-icmp ip6 daddr @sg_g0_out6_icmp accept
		ip6 daddr @sg_g0_out6_all accept
	}
	# group web, ingress
	chain sg_g1_in {
		ip saddr . meta l4proto . th dport @sg_g1_in4_l4 accept
		meta l4proto icmp ip saddr @sg_g1_in4_icmp accept
		ip saddr @sg_g1_in4_all accept
		ip6 saddr . meta l4proto . th dport @sg_g1_in6_l4 accept
		meta l4proto ipv6-icmp ip6 saddr @sg_g1_in6_icmp accept
		ip6 saddr @sg_g1_in6_all accept
	}
	# group web, egress
	chain sg_g1_out {
		ip daddr . meta l4proto . th dport @sg_g1_out4_l4 accept
		meta l4proto icmp ip daddr @sg_g1_out4_icmp accept
		ip daddr @sg_g1_out4_all accept
		ip6 daddr . meta l4proto . th dport @sg_g1_out6_l4 accept
		meta l4proto ipv6-icmp ip6 daddr @sg_g1_out6_icmp accept
		ip6 daddr @sg_g1_out6_all accept
	}
	# port tap0, ingress
	chain sg_p0_in {
		jump sg_g0_in
		jump sg_g1_in
	}
	# port tap1, ingress
	chain sg_p1_in {
		jump sg_g1_in
	}
	# port tap0, egress
	chain sg_p0_out {
		jump sg_g0_out
		drop
	}
	# from a port address: egress rules (default deny only for ports whose groups have egress rules)
	chain sg_from_port {
		icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } ip6 hoplimit 255 accept
		ct state invalid drop
		ip saddr vmap @sg_out4
		ip6 saddr vmap @sg_out6
	}
	# to a port address: ingress rules, default deny
	chain sg_to_port {
		icmpv6 type { nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } ip6 hoplimit 255 accept
		ct state invalid drop
		ip daddr vmap @sg_in4
		ip6 daddr vmap @sg_in6
		drop
	}
	# routed and bridged (br_netfilter) traffic: the sender port's egress rules...
	chain sg_forward_out {
		type filter hook forward priority filter; policy accept;
		ct state established,related accept
		ip saddr @sg_addr4 jump sg_from_port
		ip6 saddr @sg_addr6 jump sg_from_port
	}
	# ...and, in a base chain of its own (an accept ends only its chain), the receiver port's ingress rules
	chain sg_forward_in {
		type filter hook forward priority filter + 1; policy accept;
		ct state established,related accept
		ip daddr @sg_addr4 jump sg_to_port
		ip6 daddr @sg_addr6 jump sg_to_port
	}
	# a guest to the host: egress rules, except DHCP/DHCPv6 requests and the metadata service (as on EC2)
	chain sg_input {
		type filter hook input priority filter; policy accept;
		ct state established,related accept
		udp sport 68 udp dport 67 accept
		udp sport 546 udp dport 547 accept
		ct status dnat ct original ip daddr 169.254.169.254 accept
		ip saddr @sg_addr4 jump sg_from_port
		ip6 saddr @sg_addr6 jump sg_from_port
	}
	# the host to a guest: ingress rules, except DHCP/DHCPv6 replies (and ND/RA, in sg_to_port)
	chain sg_output {
		type filter hook output priority filter; policy accept;
		ct state established,related accept
		udp sport 67 udp dport 68 accept
		udp sport 547 udp dport 546 accept
		ip daddr @sg_addr4 jump sg_to_port
		ip6 daddr @sg_addr6 jump sg_to_port
	}
}
table bridge nimbo {
	# security groups, layer 2: frames from a guest carry its own MAC and addresses (no conntrack here)
	set sg_ports {
		type ifname
		elements = {
			"tap0",
			"tap1",
			"tap2"
		}
	}
	set sg_port_mac {
		type ifname . ether_addr
		elements = {
			"tap0" . 52:54:00:00:00:02,
			"tap1" . 52:54:00:00:00:01,
			"tap2" . 52:54:00:00:00:03
		}
	}
	set sg_port_ipv4 {
		type ifname . ipv4_addr
		elements = {
			"tap0" . 10.77.0.10,
			"tap0" . 10.77.0.20,
			"tap1" . 10.77.0.11,
			"tap2" . 10.77.0.12
		}
	}
	set sg_port_ipv6 {
		type ifname . ipv6_addr
		elements = {
			"tap0" . fd00:77::10,
			"tap0" . fd00:77::20,
			"tap1" . fd00:77::11
		}
	}
	set sg_port_nd_target {
		typeof iifname . @th,64,128
		elements = {
			"tap0" . 0xfd000077000000000000000000000010,
			"tap0" . 0xfd000077000000000000000000000020,
			"tap1" . 0xfd000077000000000000000000000011
		}
	}
	# frames from a guest: anti-spoofing
	chain sg_prerouting {
		type filter hook prerouting priority -200; policy accept;
		iifname != @sg_ports accept
		iifname . ether saddr != @sg_port_mac drop
		ether type != { ip, arp, ip6 } drop
		ether type arp iifname . arp saddr ether != @sg_port_mac drop
		ether type arp arp saddr ip 0.0.0.0 accept
		ether type arp iifname . arp saddr ip != @sg_port_ipv4 drop
		ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 udp dport 67 accept
		ether type ip iifname . ip saddr != @sg_port_ipv4 drop
		ip6 saddr != { ::, fe80::/10 } iifname . ip6 saddr != @sg_port_ipv6 drop
		icmpv6 type nd-neighbor-advert @th,64,16 & 0xffc0 != 0xfe80 iifname . @th,64,128 != @sg_port_nd_target drop
		udp sport { 67, 547 } drop
		icmpv6 type { nd-router-advert, nd-redirect } drop
		icmp type redirect drop
	}
}
`;
