package l2tp

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"testing"

	"github.com/vpdn/vpdn/transport"
	"github.com/vpdn/vpdn/wire/l2tp"
)

// TestOverUDP runs a LAC and an LNS over real UDP sockets with batched
// I/O (transport.UDPConn), inside a private network namespace on
// 198.18.0.0/15 addresses (DESIGN.md lab rules). The LNS answers from an
// ephemeral port, as many do (§8.1).
func TestOverUDP(t *testing.T) {
	if os.Getenv("VPDN_L2TP_NETNS") != "1" {
		if exec.Command("unshare", "-n", "true").Run() != nil {
			t.Skip("network namespaces unavailable")
		}
		script := `ip link set lo up && ip addr add 198.18.0.1/32 dev lo && ip addr add 198.18.0.2/32 dev lo && exec "$0" -test.run "^TestOverUDP$" -test.v -test.timeout=60s`
		cmd := exec.Command("unshare", "-n", "sh", "-c", script, os.Args[0])
		cmd.Env = append(os.Environ(), "VPDN_L2TP_NETNS=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("in netns: %v\n%s", err, out)
		}
		t.Logf("in netns:\n%s", out)
		return
	}
	listen, err := transport.ListenUDP(netip.MustParseAddrPort("198.18.0.1:1701"))
	if err != nil {
		t.Fatal(err)
	}
	eph, err := transport.ListenUDP(netip.MustParseAddrPort("198.18.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	ups := make(chan *Session, 1)
	lns, _ := NewNode(Config{Conn: eph, Defaults: TunnelParams{Secret: []byte("pw")}, OnSessionUp: func(s *Session) { ups <- s }})
	go listen.Serve(lns.HandlePacket)
	go eph.Serve(lns.HandlePacket)

	lacConn, err := transport.ListenUDP(netip.MustParseAddrPort("198.18.0.2:1701"))
	if err != nil {
		t.Fatal(err)
	}
	lac, _ := NewNode(Config{Conn: lacConn})
	go lacConn.Serve(lac.HandlePacket)

	s, err := lac.Dial(context.Background(), listen.LocalAddr(), TunnelParams{Secret: []byte("pw")}, CallParams{})
	if err != nil {
		t.Fatal(err)
	}
	ls := <-ups
	if s.Info().Peer != eph.LocalAddr() {
		t.Fatalf("LAC talks to %v, want the ephemeral port %v", s.Info().Peer, eph.LocalAddr())
	}
	got := make(chan string, 1)
	ls.SetReceiver(func(f []byte) { got <- string(f) })
	if err := s.WriteFrame([]byte("\xff\x03ppp")); err != nil {
		t.Fatal(err)
	}
	if f := <-got; f != "\xff\x03ppp" {
		t.Fatalf("frame %q", f)
	}
	s.Close(l2tp.Result{Code: l2tp.CDNAdmin})
	<-s.Done()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	lac.Close(ctx)
	lns.Close(ctx)
	listen.Close()
	eph.Close()
	lacConn.Close()
}
