package pptp

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/access"
	"github.com/vpdn/vpdn/dataplane"
	"github.com/vpdn/vpdn/netif"
	"github.com/vpdn/vpdn/proto/ppp"
	ctl "github.com/vpdn/vpdn/proto/pptp"
	"github.com/vpdn/vpdn/transport/memnet"
	"github.com/vpdn/vpdn/vif"
	"github.com/vpdn/vpdn/wire/mppe"
	wpptp "github.com/vpdn/vpdn/wire/pptp"
)

// TestCDNResult: each cause maps to its RFC 2637 §2.13 CDN result.
func TestCDNResult(t *testing.T) {
	for c, want := range map[access.Cause]wpptp.CDNResult{
		access.CauseLostCarrier: wpptp.CDNLostCarrier,
		access.CauseLostService: wpptp.CDNLostCarrier,
		access.CauseAuthFailed:  wpptp.CDNGeneralError,
		access.CauseNoAddress:   wpptp.CDNGeneralError,
		access.CauseNegotiation: wpptp.CDNGeneralError,
		access.CauseAdmin:       wpptp.CDNAdminShutdown,
		access.CauseShutdown:    wpptp.CDNAdminShutdown,
		access.CauseUserRequest: wpptp.CDNAdminShutdown,
	} {
		if got := CDNResult(c); got != want {
			t.Errorf("%v: %v, want %v", c, got, want)
		}
	}
}

var (
	serverAddr = netip.MustParseAddr("198.18.0.1")
	clientAddr = netip.MustParseAddr("198.18.0.2")
)

// end is a tunnel server or a client made of the carrier and the shared
// parts, on the in-memory network.
type end struct {
	svc  *Service
	acc  *access.Manager
	host *netif.FakeHost
	ups  chan *access.Session
}

func newEnd(t *testing.T, nw *memnet.Network, addr netip.Addr, role ctl.Role, prof *access.Profile) *end {
	t.Helper()
	e := &end{host: netif.NewFakeHost(), ups: make(chan *access.Session, 4)}
	plane := dataplane.New(dataplane.Config{})
	ifs, _ := vif.New(vif.Config{Host: e.host})
	local, err := aaa.NewLocal(aaa.LocalConfig{Users: []aaa.User{{Name: "alice", Password: "wonderland"}}})
	if err != nil {
		t.Fatal(err)
	}
	e.acc, err = access.New(access.Config{Plane: plane, Interfaces: ifs,
		Authenticator: func(string) aaa.Authenticator { return local },
		AssignAddress: func(*aaa.Authorization, string, string) (*aaa.Lease, error) {
			return &aaa.Lease{Addr: netip.MustParseAddr("198.19.1.5")}, nil
		},
		OnUp: func(s *access.Session) { e.ups <- s }})
	if err != nil {
		t.Fatal(err)
	}
	h := nw.Host(addr)
	gre, err := h.ListenIP(47, addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Role: role, GRE: gre, Plane: plane, Access: e.acc, Node: ctl.Config{Seed: uint64(role) + 1}}
	if prof != nil {
		cfg.Profile = func(ctl.ConnStats) (*access.Profile, error) { return prof, nil }
	}
	if e.svc, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { e.svc.Serve(); close(done) }()
	var ln interface{ Close() error }
	if role == ctl.RolePAC {
		l, err := nw.ListenTCP(netip.AddrPortFrom(addr, wpptp.TCPPort))
		if err != nil {
			t.Fatal(err)
		}
		ln = l
		go e.svc.ServeControl(l)
	}
	t.Cleanup(func() {
		e.acc.Close(access.CauseShutdown)
		if ln != nil {
			ln.Close()
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		e.svc.Close(ctx)
		gre.Close()
		<-done
		plane.Close()
		ifs.Close()
	})
	return e
}

func profiles(m ppp.MPPEConfig) (server, client *access.Profile) {
	server = &access.Profile{Role: access.Server, Template: "Virtual-Template1", MTU: 1400,
		AuthMethods: []aaa.Method{aaa.MSCHAPv2}, Local: netip.MustParseAddr("198.19.0.1"), VerifySource: true, MPPE: m}
	client = &access.Profile{Role: access.Client, Template: "Dialer1", Kind: vif.VirtualPPP, Unit: 1,
		MTU: 1400, Hostname: "alice", Password: "wonderland", ClientIPCP: true, MPPE: m}
	return server, client
}

func udp(src, dst string, payload []byte) []byte {
	p := make([]byte, 28+len(payload))
	p[0], p[8], p[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(p[12:], s[:])
	copy(p[16:], d[:])
	binary.BigEndian.PutUint16(p[24:], uint16(8+len(payload)))
	copy(p[28:], payload)
	return p
}

// dial places the client's call to the server.
func dial(t *testing.T, nw *memnet.Network, client *end, prof *access.Profile) *access.Session {
	t.Helper()
	conn, err := nw.Host(clientAddr).DialTCP(context.Background(), clientAddr, netip.AddrPortFrom(serverAddr, wpptp.TCPPort))
	if err != nil {
		t.Fatal(err)
	}
	as, err := client.svc.Dial(context.Background(), conn, clientAddr, serverAddr, prof)
	if err != nil {
		t.Fatal(err)
	}
	return as
}

// TestPPTPSession: a client places a call to a tunnel server over PPTP
// (TCP control connection, OCRQ/OCRP, enhanced GRE), authenticates with
// MS-CHAPv2, negotiates MPPE-128 (stateless, then stateful) and carries IP
// both ways through the ciphers: what the server's interface gets is what
// the client's sent, and the keys changed as the mode says (every packet
// stateless, every 256 stateful).
func TestPPTPSession(t *testing.T) {
	for _, stateful := range []bool{false, true} {
		t.Run(fmt.Sprintf("stateful=%v", stateful), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				nw := memnet.New(3)
				m := ppp.MPPEConfig{Strengths: ppp.MPPEAuto, Required: true, Stateful: stateful}
				sp, cp := profiles(m)
				server := newEnd(t, nw, serverAddr, ctl.RolePAC, sp)
				client := newEnd(t, nw, clientAddr, ctl.RolePNS, nil)
				cs := dial(t, nw, client, cp)
				var ss *access.Session
				select {
				case ss = <-server.ups:
				case <-time.After(time.Minute):
					t.Fatal("the server's session did not come up")
				}
				<-client.ups
				synctest.Wait()
				senc, sdec := ss.Data().MPPE()
				cenc, cdec := cs.Data().MPPE()
				if senc == nil || sdec == nil || cenc == nil || cdec == nil {
					t.Fatalf("MPPE not installed: server %v/%v client %v/%v", senc, sdec, cenc, cdec)
				}
				vi, vp := server.host.Device("Vi1"), client.host.Device("Vp1")
				if vi == nil || vp == nil {
					t.Fatalf("interfaces: %v / %v", server.host.Links(), client.host.Links())
				}
				secret := bytes.Repeat([]byte("attack at dawn "), 20)
				for i := range 300 { // past a stateful key change (every 256)
					up := udp("198.19.1.5", "198.19.0.1", append(secret, byte(i)))
					inject(vp, up)
					synctest.Wait()
					if got := drain(vi); !bytes.Equal(got, up) {
						t.Fatalf("packet %d: the server got %x", i, got)
					}
					down := udp("198.19.0.1", "198.19.1.5", append(secret, byte(i)))
					inject(vi, down)
					synctest.Wait()
					if got := drain(vp); !bytes.Equal(got, down) {
						t.Fatalf("packet %d: the client got %x", i, got)
					}
				}
				if st := cenc.Stats(); st.Packets < 300 {
					t.Errorf("client encrypted %d packets", st.Packets)
				}
				st := sdec.Stats()
				if st.Packets < 300 || st.Lost != 0 {
					t.Errorf("server decrypter %+v", st)
				}
				if want := uint64(300); !stateful && st.Rekeys < want || stateful && (st.Rekeys < 1 || st.Rekeys > 3) {
					t.Errorf("stateful=%v: %d key changes for %d packets", stateful, st.Rekeys, st.Packets)
				}
				if f := cs.Data().Encap().(*dataplane.PPTPEncap).Flow(); f.Alarms != 0 || client.acc.MPPEFallbacks() != 0 {
					t.Errorf("a flow alarm without loss: %+v", f)
				}
				// Hang up: the call's CDN reaches the server.
				cs.Close(access.CauseUserRequest, "test over")
				<-cs.Done()
				select {
				case <-ss.Done():
				case <-time.After(time.Minute):
					t.Fatal("the server's session outlived the call")
				}
			})
		})
	}
}

// drain returns the next packet a fake device was given (without its
// virtio header when it has offloads), or nil.
func drain(d *netif.Fake) []byte {
	select {
	case p := <-d.Outbound:
		if d.Offload() && len(p) >= netif.VnetHdrLen {
			return p[netif.VnetHdrLen:]
		}
		return p
	default:
		return nil
	}
}

// inject gives a fake device a packet to read (behind a virtio header
// when it has offloads).
func inject(d *netif.Fake, p []byte) {
	if d.Offload() {
		p = append(make([]byte, netif.VnetHdrLen), p...)
	}
	d.Inject(p)
}

// slowReader delays every read of a stream by d, as a loaded client reads
// its TCP socket late.
type slowReader struct {
	ctl.Stream
	d time.Duration
}

func (s slowReader) Read(b []byte) (int, error) {
	time.Sleep(s.d)
	return s.Stream.Read(b)
}

// TestDialHoldsEarlyFrames: the server starts LCP as it answers the call,
// and its first GRE packet reaches the client before the client has read
// the OCRP off TCP (here every read of the control connection is 100 ms
// late). The client had installed nothing yet and dropped the frame, and
// PPP waited out a 3 s Restart; the client now installs the call's data
// path before its OCRQ and holds the frame until the call is up: the
// session is up well within the Restart time.
func TestDialHoldsEarlyFrames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(11)
		sp, cp := profiles(ppp.MPPEConfig{})
		server := newEnd(t, nw, serverAddr, ctl.RolePAC, sp)
		client := newEnd(t, nw, clientAddr, ctl.RolePNS, nil)
		conn, err := nw.Host(clientAddr).DialTCP(context.Background(), clientAddr, netip.AddrPortFrom(serverAddr, wpptp.TCPPort))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := client.svc.Dial(context.Background(), slowReader{conn, 100 * time.Millisecond}, clientAddr, serverAddr, cp); err != nil {
			t.Fatal(err)
		}
		<-client.ups
		<-server.ups
		if el := time.Since(start); el >= 3*time.Second {
			t.Errorf("the session took %v to come up: its first LCP frames were lost", el)
		}
	})
}

// TestPPTPFlowAlarmFallback: both ends configured stateful MPPE-128; 5 %
// of GRE lost both ways raises the flow alarm, and the session falls back
// to stateless (document 001): CCP renegotiates with the H bit, both ends
// go along, once, and count it; once the loss stops every packet passes
// again, and more loss changes nothing (stateless stays).
func TestPPTPFlowAlarmFallback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(7)
		m := ppp.MPPEConfig{Strengths: mppe.Opt128, Stateful: true}
		sp, cp := profiles(m)
		server := newEnd(t, nw, serverAddr, ctl.RolePAC, sp)
		client := newEnd(t, nw, clientAddr, ctl.RolePNS, nil)
		cs := dial(t, nw, client, cp)
		ss := <-server.ups
		<-client.ups
		synctest.Wait()
		for _, s := range []*access.Session{ss, cs} {
			if v := s.View().MPPE; v == nil || v.Stateless {
				t.Fatalf("%s: MPPE %+v, want stateful", s.Name(), v)
			}
		}
		vi, vp := server.host.Device("Vi1"), client.host.Device("Vp1")
		secret := bytes.Repeat([]byte("attack at dawn "), 20)
		exchange := func(n int) (lost int) {
			for i := range n {
				up := udp("198.19.1.5", "198.19.0.1", append(secret, byte(i)))
				inject(vp, up)
				down := udp("198.19.0.1", "198.19.1.5", append(secret, byte(i)))
				inject(vi, down)
				time.Sleep(10 * time.Millisecond)
				synctest.Wait()
				if got := drain(vi); !bytes.Equal(got, up) {
					lost++
				}
				if got := drain(vp); !bytes.Equal(got, down) {
					lost++
				}
			}
			return lost
		}
		nw.SetFaults(memnet.Faults{Loss: 0.05})
		exchange(500)
		nw.SetFaults(memnet.Faults{})
		// CCP's own packets may have been lost: its Restart timer (3 s)
		// resends them.
		time.Sleep(10 * time.Second)
		synctest.Wait()
		for _, s := range []*access.Session{ss, cs} {
			v := s.View().MPPE
			if v == nil || !v.Stateless || !v.FellBack || v.Bits != 128 {
				t.Fatalf("%s: MPPE %+v after the loss, want a fallback to stateless", s.Name(), v)
			}
		}
		if a, b := server.acc.MPPEFallbacks(), client.acc.MPPEFallbacks(); a != 1 || b != 1 {
			t.Fatalf("fallbacks counted: server %d, client %d", a, b)
		}
		if f := cs.Data().Encap().(*dataplane.PPTPEncap).Flow(); f.Alarms == 0 {
			if f2 := ss.Data().Encap().(*dataplane.PPTPEncap).Flow(); f2.Alarms == 0 {
				t.Fatalf("no alarm on either end: %+v / %+v", f, f2)
			}
		}
		if lost := exchange(300); lost != 0 {
			t.Fatalf("%d packets lost after the fallback without loss", lost)
		}
		// More loss: stateless stays, no second fallback.
		nw.SetFaults(memnet.Faults{Loss: 0.05})
		exchange(300)
		nw.SetFaults(memnet.Faults{})
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if a, b := server.acc.MPPEFallbacks(), client.acc.MPPEFallbacks(); a != 1 || b != 1 {
			t.Fatalf("fallbacks counted after more loss: server %d, client %d", a, b)
		}
		if v := cs.View().MPPE; v == nil || !v.Stateless {
			t.Fatalf("client MPPE %+v", v)
		}
		cs.Close(access.CauseUserRequest, "test over")
		<-cs.Done()
		<-ss.Done()
	})
}
