// Package transport provides the sockets the protocols run over, with
// batched I/O, and in-memory fakes of each for tests.
//
// UDPConn is a UDP socket that reads batches of BatchSize datagrams per
// system call (recvmmsg, with UDP_GRO when the kernel has it) and writes
// trains of datagrams to one peer with a SegmentWriter (one sendmsg with
// UDP_SEGMENT, or sendmmsg without). It has the WriteTo(b,
// netip.AddrPort) method proto/l2tp's Conn wants, and Serve feeds every
// received datagram to a handler such as l2tp.Node.HandlePacket:
//
//	u, _ := transport.ListenUDP(netip.MustParseAddrPort("198.18.0.1:1701"))
//	node, _ := l2tp.NewNode(l2tp.Config{Conn: u, ...})
//	go u.Serve(node.HandlePacket)
//
// Package memnet is the in-memory equivalent, with seeded loss,
// duplication, delay and reordering, deterministic under testing/synctest.
package transport
