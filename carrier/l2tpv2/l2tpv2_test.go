package l2tpv2

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/access"
	"github.com/vpdn/vpdn/dataplane"
	"github.com/vpdn/vpdn/internal/nstest"
	"github.com/vpdn/vpdn/netif"
	"github.com/vpdn/vpdn/proto/l2tp"
	"github.com/vpdn/vpdn/transport"
	"github.com/vpdn/vpdn/transport/memnet"
	"github.com/vpdn/vpdn/vif"
	wl2tp "github.com/vpdn/vpdn/wire/l2tp"
)

// TestCDNResult: each cause maps to its RFC 2661 §4.4.2 CDN result.
func TestCDNResult(t *testing.T) {
	for c, want := range map[access.Cause][2]uint16{
		access.CauseNoAddress:   {wl2tp.CDNNoFacilitiesTmp, wl2tp.ErrCodeResources},
		access.CauseResources:   {wl2tp.CDNNoFacilitiesTmp, wl2tp.ErrCodeResources},
		access.CauseAuthFailed:  {wl2tp.CDNGeneralError, wl2tp.ErrCodeVendor},
		access.CauseInterface:   {wl2tp.CDNGeneralError, wl2tp.ErrCodeVendor},
		access.CauseNegotiation: {wl2tp.CDNGeneralError, wl2tp.ErrCodeVendor},
		access.CauseAdmin:       {wl2tp.CDNAdmin, 0},
		access.CauseShutdown:    {wl2tp.CDNAdmin, 0},
		access.CauseUserRequest: {wl2tp.CDNAdmin, 0},
		access.CauseLostCarrier: {wl2tp.CDNLostCarrier, 0},
	} {
		r := CDNResult(c)
		if r.Code != want[0] || r.Error != want[1] {
			t.Errorf("%v: result %d error %d, want %v", c, r.Code, r.Error, want)
		}
	}
}

// end is an LNS or a LAC made of the carrier and the shared parts.
type end struct {
	svc  *Service
	acc  *access.Manager
	host *netif.FakeHost
	ups  chan *access.Session
}

type acceptAll struct{}

func (acceptAll) Authenticate(context.Context, *aaa.Request) (*aaa.Result, error) {
	return &aaa.Result{Accept: true}, nil
}

func newEnd(t *testing.T, bind transport.Bind, prof *access.Profile, peerAddr netip.Addr) *end {
	t.Helper()
	e := &end{host: netif.NewFakeHost(), ups: make(chan *access.Session, 4)}
	plane := dataplane.New(dataplane.Config{})
	ifs, _ := vif.New(vif.Config{Host: e.host})
	var err error
	e.acc, err = access.New(access.Config{Plane: plane, Interfaces: ifs,
		Authenticator: func(string) aaa.Authenticator { return acceptAll{} },
		AssignAddress: func(*aaa.Authorization, string, string) (*aaa.Lease, error) { return &aaa.Lease{Addr: peerAddr}, nil },
		OnUp:          func(s *access.Session) { e.ups <- s }})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Bind: bind, Plane: plane, Access: e.acc}
	if prof != nil {
		cfg.Profile = func(l2tp.TunnelStats) (*access.Profile, error) { return prof, nil }
	}
	if e.svc, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { e.svc.Serve(); close(done) }()
	t.Cleanup(func() {
		e.acc.Close(access.CauseShutdown)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		e.svc.Close(ctx)
		bind.Close()
		<-done
		plane.Close()
		ifs.Close()
	})
	return e
}

var (
	lnsProfile = &access.Profile{Role: access.Server, Template: "Virtual-Template1", MTU: 1460,
		AuthMethods: []aaa.Method{aaa.PAP}, Local: netip.MustParseAddr("198.19.0.1"), VerifySource: true}
	lacProfile = &access.Profile{Role: access.Client, Template: "Virtual-PPP1", Kind: vif.VirtualPPP, Unit: 1,
		MTU: 1460, Hostname: "u", Password: "p", ClientIPCP: true, Keepalive: time.Second}
)

func udp(src, dst string) []byte {
	p := make([]byte, 28)
	p[0], p[8], p[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(p[2:], 28)
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(p[12:], s[:])
	copy(p[16:], d[:])
	return p
}

// TestSequencedSession: with sequencing, the session's PPP keepalives and
// its IP share one sequence of Ns (today's main gives them two, and a
// peer that checks Ns drops the echoes once IP has moved ahead: the
// session dies on keepalive). Ten minutes of traffic with LCP echoes every
// second: the session stays up, no frame is dropped out of order.
func TestSequencedSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(5)
		lb, _ := nw.ListenUDP(netip.MustParseAddrPort("198.18.0.1:1701"))
		cb, _ := nw.ListenUDP(netip.MustParseAddrPort("198.18.0.2:1701"))
		lns := newEnd(t, lb, lnsProfile, netip.MustParseAddr("198.19.1.5"))
		lac := newEnd(t, cb, nil, netip.Addr{})
		s, err := lac.svc.Dial(context.Background(), lb.LocalAddr(), l2tp.TunnelParams{}, l2tp.CallParams{Sequencing: true}, lacProfile)
		if err != nil {
			t.Fatal(err)
		}
		ls := <-lns.ups
		<-lac.ups
		synctest.Wait()
		vp, vi := lac.host.Device("Vp1"), lns.host.Device("Vi1")
		for range 600 {
			for range 20 {
				vp.Inject(udp("198.19.1.5", "198.19.0.1"))
				vi.Inject(udp("198.19.0.1", "198.19.1.5"))
			}
			time.Sleep(time.Second)
			for len(vi.Outbound) > 0 {
				<-vi.Outbound
			}
			for len(vp.Outbound) > 0 {
				<-vp.Outbound
			}
		}
		select {
		case <-s.Done():
			c, why := s.Cause()
			t.Fatalf("the session died: %v (%s)", c, why)
		default:
		}
		if c := ls.View().Counters; c.SeqDrops != 0 || c.RxPkts < 600*20 {
			t.Fatalf("LNS counters %+v", c)
		}
		if c := s.View().Counters; c.SeqDrops != 0 || c.RxPkts < 600*20 {
			t.Fatalf("LAC counters %+v", c)
		}
	})
}

// TestOverUDP runs a LAC and an LNS over real batched UDP sockets in a
// network namespace of their own (198.18.0.0/15): the call comes up, PPP
// runs through the data plane, IP crosses.
func TestOverUDP(t *testing.T) {
	lab := nstest.New(t)
	ns := lab.NS("udp")
	ns.MustIP("addr", "add", "198.18.0.1/32", "dev", "lo")
	ns.MustIP("addr", "add", "198.18.0.2/32", "dev", "lo")
	ns.MustIP("link", "set", "lo", "up")
	var lb, cb transport.Bind
	if err := ns.Do(func() error {
		var err error
		if lb, err = transport.System.ListenUDP(netip.MustParseAddrPort("198.18.0.1:1701")); err != nil {
			return err
		}
		cb, err = transport.System.ListenUDP(netip.MustParseAddrPort("198.18.0.2:1701"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	lns := newEnd(t, lb, lnsProfile, netip.MustParseAddr("198.19.1.5"))
	lac := newEnd(t, cb, nil, netip.Addr{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := lac.svc.Dial(ctx, lb.LocalAddr(), l2tp.TunnelParams{}, l2tp.CallParams{}, lacProfile); err != nil {
		t.Fatal(err)
	}
	for _, e := range []*end{lns, lac} {
		select {
		case <-e.ups:
		case <-ctx.Done():
			t.Fatal("PPP did not come up")
		}
	}
	vp, vi := lac.host.Device("Vp1"), lns.host.Device("Vi1")
	p := udp("198.19.1.5", "198.19.0.1")
	vp.Inject(p)
	select {
	case got := <-vi.Outbound:
		if !bytes.Equal(got, p) {
			t.Fatalf("got %x", got)
		}
	case <-ctx.Done():
		t.Fatal("IP did not cross")
	}
}
