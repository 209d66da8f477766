package l2tp_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/vpdn/vpdn/proto/l2tp"
	"github.com/vpdn/vpdn/transport/memnet"
	wire "github.com/vpdn/vpdn/wire/l2tp"
)

// A LAC places a call to an LNS over an in-memory network; in production
// the Conns are UDP binds (transport) read through a dataplane.Port.
func Example() {
	nw := memnet.New(1)
	lnsAddr := netip.MustParseAddrPort("198.18.0.1:1701")
	lacAddr := netip.MustParseAddrPort("198.18.0.2:1701")

	// The LNS: accepts tunnels from "LAC" with a password, and every call.
	lnsConn, _ := nw.Listen(lnsAddr)
	up := make(chan *l2tp.Session, 1)
	lns, _ := l2tp.NewNode(l2tp.Config{
		Conn: lnsConn,
		Incoming: func(peer netip.AddrPort, hostname string) (l2tp.TunnelParams, bool) {
			return l2tp.TunnelParams{LocalName: "LNS", Secret: []byte("cisco123")}, hostname == "LAC"
		},
		OnCall:      func(c *l2tp.Call) { c.Accept() },
		OnSessionUp: func(s *l2tp.Session) { up <- s },
	})
	go lnsConn.Serve(lns.HandlePacket)

	// The LAC.
	lacConn, _ := nw.Listen(lacAddr)
	lac, _ := l2tp.NewNode(l2tp.Config{Conn: lacConn})
	go lacConn.Serve(lac.HandlePacket)

	s, err := lac.Dial(context.Background(), lnsAddr,
		l2tp.TunnelParams{LocalName: "LAC", Secret: []byte("cisco123")},
		l2tp.CallParams{CallingNumber: "5551234", Proxy: &l2tp.ProxyInfo{AuthType: wire.ProxyAuthPAP, AuthName: "alice"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	ls := <-up
	// The session's data messages are the data plane's (package
	// dataplane): it is installed with these IDs and this peer.
	info := ls.Info()
	fmt.Println("LNS sees peer", info.PeerName, "user", info.Call.Proxy.AuthName)
	fmt.Println("IDs match:", info.RemoteSessionID == s.Info().LocalSessionID)

	// Tear down: CDN for the session, StopCCN for everything else.
	s.Close(wire.Result{Code: wire.CDNAdmin})
	<-s.Done()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // don't wait for the §5.7 hold in an example
	lac.Close(ctx)
	lns.Close(ctx)
	lacConn.Close()
	lnsConn.Close()
	// Output:
	// LNS sees peer LAC user alice
	// IDs match: true
}
