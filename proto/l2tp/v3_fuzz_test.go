package l2tp

import (
	"context"
	"net/netip"
	"testing"

	"github.com/vpdn/vpdn/wire/l2tp"
)

type discardConn struct{}

func (discardConn) WriteTo([]byte, netip.AddrPort) error { return nil }

// FuzzV3HandlePacket feeds arbitrary datagrams to an L2TPv3 node over IP
// and over UDP: nothing panics, and the node stays within its limits.
func FuzzV3HandlePacket(f *testing.F) {
	m := &l2tp.V3Message{Type: l2tp.MsgSCCRQ, HostName: "x", RouterID: 1, AssignedCCID: 9,
		PWCapabilities: []l2tp.PWType{l2tp.PWEthernet}, Nonce: make([]byte, 16),
		Digests: []l2tp.MessageDigest{{Type: l2tp.DigestHMACMD5, Digest: make([]byte, 16)}}}
	m.Set(l2tp.AVPHostName, l2tp.AVPRouterID, l2tp.AVPAssignedCCID, l2tp.AVPPWCapabilities, l2tp.AVPCtlMsgAuthNonce, l2tp.AVPMessageDigest)
	for _, udp := range []bool{false, true} {
		b, _ := m.AppendAVPs(l2tp.AppendV3ControlHeader(nil, udp, 0, 0, 0))
		_ = l2tp.FinishV3Control(b, udp)
		f.Add(b, udp)
		z := l2tp.AppendV3ControlHeader(nil, udp, 1, 0, 0)
		_ = l2tp.FinishV3Control(z, udp)
		f.Add(z, udp)
	}
	from := netip.MustParseAddrPort("198.18.3.9:1701")
	nodes := map[bool]*V3Node{}
	for _, udp := range []bool{false, true} {
		n, err := NewV3Node(V3Config{Conn: discardConn{}, OverUDP: udp, Limits: Limits{MaxTunnels: 8},
			Defaults: V3Params{Secret: []byte("k")}})
		if err != nil {
			f.Fatal(err)
		}
		nodes[udp] = n
	}
	f.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for _, n := range nodes {
			n.Close(ctx)
		}
	})
	f.Fuzz(func(t *testing.T, b []byte, udp bool) {
		n := nodes[udp]
		n.HandlePacket(b, from)
		if st := n.Stats(); st.Conns > 8 {
			t.Fatalf("%d control connections", st.Conns)
		}
	})
}
