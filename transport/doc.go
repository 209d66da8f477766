// Package transport provides the sockets the protocols run over, with
// batched I/O, behind one small interface, and a Factory that opens them,
// so that a daemon given memnet's Factory instead of System runs entirely
// in memory.
//
// A Bind is a datagram endpoint: WriteTo sends one datagram, ServeBatch
// hands every received datagram to a handler and calls flush after each
// batch. The binds of the kernel are
//
//   - UDPConn, a UDP socket (L2TPv2, L2TPv3 over UDP, IKE, NAT-T) that
//     reads batches of BatchSize datagrams per system call (recvmmsg, with
//     UDP_GRO when the kernel has it) and is a Segmenter: its
//     SegmentSenders send trains of datagrams to one peer with one
//     sendmsg with UDP_SEGMENT (sendmmsg without);
//   - IPConn, a raw IP socket of one protocol (enhanced GRE 47 for PPTP,
//     ESP 50, L2TPv3 115), batched the same way, whose IPv4 headers are
//     checked and stripped on receive, with the TOS, TTL and DF settings
//     of an L2TPv3 pseudowire-class.
//
// Control connections that run over TCP (PPTP, port 1723) are net.Conns
// from Factory.ListenTCP and DialTCP.
//
// A Bind has the WriteTo(b, netip.AddrPort) method proto/l2tp's Conn
// wants, and ServeBatch feeds a handler such as l2tp.Node.HandlePacket:
//
//	u, _ := transport.System.ListenUDP(netip.MustParseAddrPort("198.18.0.1:1701"))
//	node, _ := l2tp.NewNode(l2tp.Config{Conn: u, ...})
//	go u.ServeBatch(node.HandlePacket, nil)
//
// Package memnet is the in-memory Factory, with seeded loss, duplication,
// delay and reordering, deterministic under testing/synctest.
//
// The package knows no vpdn protocol and does not log.
package transport
