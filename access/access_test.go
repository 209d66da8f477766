package access_test

import (
	"bytes"
	"context"
	"fmt"

	"crypto/subtle"
	"encoding/binary"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/access"
	"github.com/vpdn/vpdn/dataplane"
	"github.com/vpdn/vpdn/netif"
	"github.com/vpdn/vpdn/pool"
	"github.com/vpdn/vpdn/transport"
	"github.com/vpdn/vpdn/transport/memnet"
	"github.com/vpdn/vpdn/vif"
)

// A carrier the access layer has never heard of, made up here to show that
// a new carrier is a codec, a state machine and an adapter, and that the
// access layer needs no change for it: "FakePPP" carries a PPP frame
// behind a 4-octet session ID, over a raw IP protocol of its own, without
// the address and control fields (as PPPoE carries PPP).

const fakeProto = 253 // RFC 3692: for experimentation

const kindFake dataplane.Kind = 200

// fakeDecoder: [session ID 4][PPP frame]; ID 0 is the control channel.
type fakeDecoder struct{}

func (fakeDecoder) Decode(b []byte) dataplane.Decoded {
	if len(b) < 4 {
		return dataplane.Decoded{Drop: dataplane.DropShort}
	}
	id := binary.BigEndian.Uint32(b)
	if id == 0 {
		return dataplane.Decoded{Flags: dataplane.Control}
	}
	return dataplane.Decoded{Key: dataplane.MakeKey(kindFake, uint64(id)), Payload: b[4:]}
}

// fakeEncap writes the peer's session ID.
type fakeEncap struct{ remote uint32 }

func (e fakeEncap) Len() int                 { return 4 }
func (e fakeEncap) Put(h []byte, n int)      { binary.BigEndian.PutUint32(h, e.remote) }
func (e fakeEncap) Accept(bool, uint32) bool { return true }

// fakeBearer is one end of a FakePPP call. Its "control plane" is the
// test: Close records the cause and clears the other end's session, as a
// disconnect message would.
type fakeBearer struct {
	info access.BearerInfo

	mu     sync.Mutex
	closed []access.Cause
	peer   *access.Session
}

func (b *fakeBearer) Info() access.BearerInfo { return b.info }
func (b *fakeBearer) Close(c access.Cause) {
	b.mu.Lock()
	b.closed = append(b.closed, c)
	peer := b.peer
	b.peer = nil
	b.mu.Unlock()
	if peer != nil {
		peer.LowerDown(access.CauseLostService, "FakePPP disconnect")
	}
}

func (b *fakeBearer) causes() []access.Cause {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]access.Cause(nil), b.closed...)
}

// node is one end: a data plane, interfaces on a fake host, the access
// layer, and the carrier's bind.
type node struct {
	plane *dataplane.Plane
	host  *netif.FakeHost
	acc   *access.Manager
	bind  transport.Bind
	ends  chan access.Cause
	ups   chan *access.Session
	addr  netip.Addr
}

type localAAA struct{ user, password string }

func (a localAAA) Authenticate(_ context.Context, r *aaa.Request) (*aaa.Result, error) {
	if r.Method != aaa.CHAP || r.Username != a.user {
		return &aaa.Result{Reason: "unknown user"}, nil
	}
	want := aaa.CHAPResponse(r.ID, a.password, r.Challenge)
	if subtle.ConstantTimeCompare(r.Response, want[:]) != 1 {
		return &aaa.Result{Reason: "bad password"}, nil
	}
	return &aaa.Result{Accept: true, Authz: aaa.Authorization{Routes: []netip.Prefix{netip.MustParsePrefix("198.19.64.0/24")}}}, nil
}

// leases is a one-address pool P. With gate set, an assignment tells
// entered and waits for gate: the runner's call that IPCP makes holds.
type leases struct {
	g             *pool.Group
	entered, gate chan struct{}
}

func newLeases() *leases {
	g := pool.NewGroup()
	a := netip.MustParseAddr("198.19.1.5")
	if err := g.AddRange("P", a, a); err != nil {
		panic(err)
	}
	return &leases{g: g}
}

func (l *leases) assign(authz *aaa.Authorization, name, session string) (*aaa.Lease, error) {
	if l.gate != nil {
		l.entered <- struct{}{}
		<-l.gate
	}
	return aaa.AssignAddressFor(l.g, authz, name, session)
}

func (l *leases) inUse() int { return int(l.g.Stats()[0].InUse) }

func newNode(t *testing.T, nw *memnet.Network, addr string, pool *leases) *node {
	t.Helper()
	return newNodeAuth(t, nw, addr, pool, localAAA{"alice", "wonderland"})
}

func newNodeAuth(t *testing.T, nw *memnet.Network, addr string, pool *leases, auth aaa.Authenticator) *node {
	t.Helper()
	return newNodeCfg(t, nw, addr, pool, auth, nil)
}

// newNodeCfg is newNodeAuth with a last word on the access configuration.
func newNodeCfg(t *testing.T, nw *memnet.Network, addr string, pool *leases, auth aaa.Authenticator, tweak func(*access.Config)) *node {
	t.Helper()
	n := &node{host: netif.NewFakeHost(), ends: make(chan access.Cause, 4), ups: make(chan *access.Session, 4),
		addr: netip.MustParseAddr(addr)}
	n.plane = dataplane.New(dataplane.Config{})
	ifs, err := vif.New(vif.Config{Host: n.host})
	if err != nil {
		t.Fatal(err)
	}
	cfg := access.Config{Plane: n.plane, Interfaces: ifs,
		Authenticator: func(string) aaa.Authenticator { return auth },
		OnUp:          func(s *access.Session) { n.ups <- s },
		OnEnd:         func(s *access.Session, c access.Cause, wasUp bool) { n.ends <- c }}
	if pool != nil {
		cfg.AssignAddress = pool.assign
	}
	if tweak != nil {
		tweak(&cfg)
	}
	if n.acc, err = access.New(cfg); err != nil {
		t.Fatal(err)
	}
	if n.bind, err = nw.ListenIP(fakeProto, n.addr); err != nil {
		t.Fatal(err)
	}
	pt := n.plane.NewPort(n.bind, fakeDecoder{}, nil)
	done := make(chan struct{})
	go func() { pt.Serve(); close(done) }()
	t.Cleanup(func() {
		n.acc.Close(access.CauseShutdown)
		n.bind.Close()
		<-done
		n.plane.Close()
		ifs.Close()
	})
	return n
}

var (
	serverProfile = &access.Profile{Role: access.Server, Template: "Virtual-Template1", MTU: 1500,
		AuthMethods: []aaa.Method{aaa.CHAP}, Hostname: "lns", Password: "unused",
		Local: netip.MustParseAddr("198.19.0.1"), Pool: "P", VerifySource: true, Keepalive: 10 * time.Second}
	clientProfile = &access.Profile{Role: access.Client, Template: "Virtual-PPP1", Kind: vif.VirtualPPP, Unit: 1,
		MTU: 1500, Hostname: "alice", Password: "wonderland", ClientIPCP: true, Refuse: []aaa.Method{aaa.EAPMD5}}
)

// call opens a FakePPP call between client and server, with session IDs 1
// (server) and 2 (client).
func call(t *testing.T, server, client *node, cp *access.Profile) (ss, cs *access.Session, sb, cb *fakeBearer) {
	t.Helper()
	return callWith(t, server, client, serverProfile, cp)
}

// callWith is call with the server's profile.
func callWith(t *testing.T, server, client *node, sp, cp *access.Profile) (ss, cs *access.Session, sb, cb *fakeBearer) {
	t.Helper()
	sb = &fakeBearer{info: access.BearerInfo{Protocol: "FakePPP", LocalID: 1, RemoteID: 2, Peer: netip.AddrPortFrom(client.addr, 0)}}
	cb = &fakeBearer{info: access.BearerInfo{Protocol: "FakePPP", LocalID: 2, RemoteID: 1, Peer: netip.AddrPortFrom(server.addr, 0)}}
	var err error
	ss, err = server.acc.Open(sb, access.DataSpec{Key: dataplane.MakeKey(kindFake, 1), Peer: netip.AddrPortFrom(client.addr, 0),
		Bind: server.bind, Encap: fakeEncap{2}}, sp)
	if err != nil {
		t.Fatal(err)
	}
	cs, err = client.acc.Open(cb, access.DataSpec{Key: dataplane.MakeKey(kindFake, 2), Peer: netip.AddrPortFrom(server.addr, 0),
		Bind: client.bind, Encap: fakeEncap{1}}, cp)
	if err != nil {
		t.Fatal(err)
	}
	sb.peer, cb.peer = cs, ss
	ss.LowerUp()
	cs.LowerUp()
	return
}

// TestFakeCarrier: PPP over a carrier the access layer does not know,
// without the address and control fields: authentication, a pool address,
// both interfaces up with their addresses and routes, IP both ways, the
// server's source check; then a clear on one end ends both, with typed
// causes, and the address goes back.
func TestFakeCarrier(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(1)
		pool := newLeases()
		server := newNode(t, nw, "198.18.0.1", pool)
		client := newNode(t, nw, "198.18.0.2", nil)
		ss, cs, sb, cb := call(t, server, client, clientProfile)
		<-server.ups
		<-client.ups
		synctest.Wait()
		vi, vp := server.host.Device("Vi1"), client.host.Device("Vp1")
		if vi == nil || vp == nil {
			t.Fatalf("interfaces: server %v client %v", server.host.Links(), client.host.Links())
		}
		sv, cv := ss.View(), cs.View()
		if sv.User != "alice" || sv.Peer != netip.MustParseAddr("198.19.1.5") || cv.Local != sv.Peer || cv.Peer != sv.Local ||
			sv.Bearer.Protocol != "FakePPP" || sv.AuthPeer != aaa.CHAP || !sv.Up {
			t.Fatalf("server %+v\nclient %+v", sv, cv)
		}
		if rs, _ := server.host.Routes("Vi1"); !slices.ContainsFunc(rs, func(r netif.Route) bool { return r.Dst == netip.MustParsePrefix("198.19.64.0/24") }) {
			t.Fatalf("the framed route is not on Vi1: %v", rs)
		}
		if pool.inUse() != 1 {
			t.Fatal("no address in use")
		}
		for _, c := range []struct {
			src  string
			pass bool
		}{{"198.19.1.5", true}, {"198.19.64.7", true}, {"198.19.1.6", false}, {"198.19.0.1", false}} {
			p := ipv4(c.src, "198.19.0.1")
			vp.Inject(p)
			synctest.Wait()
			if got := len(vi.Outbound) == 1; got != c.pass {
				t.Errorf("from %s: delivered %v, want %v", c.src, got, c.pass)
			}
			if c.pass && !bytes.Equal(<-vi.Outbound, p) {
				t.Error("the packet changed on the way")
			}
		}
		// A network the host learns through Vi1 (a routing protocol over
		// the session) is the session's too: strict uRPF accepts a
		// source routed back through the interface it came in on.
		learnt := ipv4("198.19.77.5", "198.19.0.1")
		vp.Inject(learnt)
		synctest.Wait()
		if len(vi.Outbound) != 0 {
			t.Fatal("a source from a network not routed through Vi1 was delivered")
		}
		if err := server.host.AddRoute("Vi1", netif.Route{Dst: netip.MustParsePrefix("198.19.77.0/24"), Gateway: sv.Peer}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		vp.Inject(learnt)
		synctest.Wait()
		if len(vi.Outbound) != 1 {
			t.Fatal("a source routed through Vi1 was dropped")
		}
		<-vi.Outbound
		if err := server.host.DelRoute("Vi1", netif.Route{Dst: netip.MustParsePrefix("198.19.77.0/24"), Gateway: sv.Peer}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		vp.Inject(learnt)
		synctest.Wait()
		if len(vi.Outbound) != 0 {
			t.Fatal("a source whose route went is still accepted")
		}
		back := ipv4("198.19.0.1", "198.19.1.5")
		vi.Inject(back)
		synctest.Wait()
		if got := <-vp.Outbound; !bytes.Equal(got, back) {
			t.Fatalf("client got %x", got)
		}
		cs.Close(access.CauseAdmin, "clear interface virtual-ppp 1")
		if c := <-client.ends; c != access.CauseAdmin {
			t.Errorf("client ended with %v", c)
		}
		if c := <-server.ends; c != access.CauseLostService {
			t.Errorf("server ended with %v", c)
		}
		<-ss.Done()
		if got := cb.causes(); len(got) != 1 || got[0] != access.CauseAdmin {
			t.Errorf("client's carrier was closed with %v", got)
		}
		if server.host.Exists("Vi1") || client.host.Exists("Vp1") || pool.inUse() != 0 {
			t.Errorf("left behind: %v %v, %d addresses in use", server.host.Links(), client.host.Links(), pool.inUse())
		}
		if got := sb.causes(); len(got) != 1 || got[0] != access.CauseLostService {
			t.Errorf("server's carrier was closed with %v", got)
		}
	})
}

// TestCauses: why a set-up fails reaches the carrier typed, whatever the
// text of the error: a wrong password, an exhausted pool, and an interface
// the kernel refuses ("file exists": an interface failure, not the
// address exhaustion today's main takes it for).
func TestCauses(t *testing.T) {
	for _, c := range []struct {
		name    string
		prepare func(server *node, pool *leases, cp *access.Profile)
		want    access.Cause
	}{
		{"wrong password", func(_ *node, _ *leases, cp *access.Profile) { cp.Password = "nope" }, access.CauseAuthFailed},
		{"pool exhausted", func(_ *node, pool *leases, _ *access.Profile) {
			if _, err := pool.g.Allocate("P", "someone"); err != nil {
				t.Fatal(err)
			}
		}, access.CauseNoAddress},
		{"pool store unreachable", func(_ *node, pool *leases, _ *access.Profile) {
			pool.g.SetStore(downStore{})
		}, access.CauseResources},
		{"interface exists", func(server *node, _ *leases, _ *access.Profile) {
			if _, err := server.host.CreateTUN("Vi1", false); err != nil {
				t.Fatal(err)
			}
		}, access.CauseInterface},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				nw := memnet.New(2)
				pool := newLeases()
				server := newNode(t, nw, "198.18.0.1", pool)
				client := newNode(t, nw, "198.18.0.2", nil)
				cp := *clientProfile
				c.prepare(server, pool, &cp)
				_, _, sb, _ := call(t, server, client, &cp)
				if got := <-server.ends; got != c.want {
					t.Fatalf("server ended with %v, want %v", got, c.want)
				}
				synctest.Wait()
				if got := sb.causes(); len(got) == 0 || got[0] != c.want {
					t.Fatalf("the carrier was closed with %v, want %v", got, c.want)
				}
				if c.want != access.CauseNoAddress && pool.inUse() != 0 {
					t.Errorf("the address did not go back: %d in use", pool.inUse())
				}
			})
		})
	}
}

// downStore is a shared pool store that cannot be reached.
type downStore struct{}

func (downStore) Sync(context.Context, []pool.Range) error { return nil }
func (downStore) Allocate(context.Context, string, pool.LeaseInfo) (netip.Addr, error) {
	return netip.Addr{}, fmt.Errorf("fake: %w: connection refused", pool.ErrStoreUnavailable)
}
func (downStore) Reserve(context.Context, string, netip.Addr, pool.LeaseInfo) error {
	return pool.ErrStoreUnavailable
}
func (downStore) Release(context.Context, string, netip.Addr) error { return nil }
func (downStore) Usage(context.Context, string, netip.Addr, netip.Addr) (uint32, uint32, error) {
	return 0, 0, pool.ErrStoreUnavailable
}
func (downStore) Describe() string { return "down" }

func ipv4(src, dst string) []byte {
	p := make([]byte, 28)
	p[0], p[8], p[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(p[2:], 28)
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(p[12:], s[:])
	copy(p[16:], d[:])
	return p
}

// TestCloseWaitsForEnding: Manager.Close waits for the teardown of a
// session that was ending already (its carrier's LowerDown) when it was
// called, and only then stops the PPP runners. It used to skip such a
// session and stop its runner under it: the teardown's call on the
// runner was dropped, the session held its call and address for the 5 s
// fallback, after Close had returned (the daemon's and carrier tests'
// synctest deadlocks at shutdown, time being stopped by then).
func TestCloseWaitsForEnding(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(1)
		pool := newLeases()
		pool.entered, pool.gate = make(chan struct{}, 1), make(chan struct{})
		server := newNode(t, nw, "198.18.0.1", pool)
		client := newNode(t, nw, "198.18.0.2", nil)
		ss, _, _, _ := call(t, server, client, clientProfile)
		<-pool.entered // the server's runner is in IPCP's address assignment
		ss.LowerDown(access.CauseLostService, "carrier gone")
		synctest.Wait() // the teardown waits for the runner, behind IPCP
		closed := make(chan struct{})
		go func() {
			server.acc.Close(access.CauseShutdown)
			close(closed)
		}()
		synctest.Wait()
		close(pool.gate)
		<-closed
		select {
		case <-ss.Done():
		default:
			t.Error("Manager.Close returned before the session it found ending was torn down")
			<-ss.Done() // the 5 s fallback, for the bubble to exit
		}
		if c, _ := ss.Cause(); c != access.CauseLostService {
			t.Errorf("cause %v, want carrier down", c)
		}
		if pool.inUse() != 0 {
			t.Errorf("the address did not go back: %d in use", pool.inUse())
		}
	})
}
