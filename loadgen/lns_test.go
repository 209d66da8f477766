package loadgen

import (
	"context"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/aaa/mschap"
	"github.com/vpdn/vpdn/access"
	"github.com/vpdn/vpdn/carrier/l2tpv2"
	"github.com/vpdn/vpdn/dataplane"
	"github.com/vpdn/vpdn/internal/csum"
	"github.com/vpdn/vpdn/netif"
	"github.com/vpdn/vpdn/proto/l2tp"
	"github.com/vpdn/vpdn/transport"
	"github.com/vpdn/vpdn/transport/memnet"
	"github.com/vpdn/vpdn/vif"
	wl2tp "github.com/vpdn/vpdn/wire/l2tp"
)

// fakeAAA accepts one user with one password, by PAP, CHAP or MS-CHAPv2
// (with MPPE keys).
type fakeAAA struct {
	user, password string
	calls          atomic.Int64
}

func (f *fakeAAA) Authenticate(_ context.Context, r *aaa.Request) (*aaa.Result, error) {
	f.calls.Add(1)
	reject := &aaa.Result{Reason: aaa.ReasonBadPassword, Message: aaa.MessageFailure}
	if r.Username != f.user {
		return reject, nil
	}
	switch r.Method {
	case aaa.PAP:
		if subtle.ConstantTimeCompare(r.Password, []byte(f.password)) == 1 {
			return &aaa.Result{Accept: true}, nil
		}
	case aaa.CHAP:
		want := aaa.CHAPResponse(r.ID, f.password, r.Challenge)
		if subtle.ConstantTimeCompare(r.Response, want[:]) == 1 {
			return &aaa.Result{Accept: true}, nil
		}
	case aaa.MSCHAPv2:
		h := mschap.NTPasswordHash(f.password)
		ok, authResp, resp, err := mschap.VerifyV2(r.Challenge, r.Response, r.Username, h)
		if err != nil {
			return nil, err
		}
		if ok {
			// The MPPE master keys (RFC 3079 §3), as aaa's local database
			// gives them: the PPTP tests negotiate MPPE.
			send, recv, err := mschap.V2Keys(h, resp.NTResponse[:])
			if err != nil {
				return nil, err
			}
			return &aaa.Result{Accept: true, MSCHAPv2Success: authResp, MPPESendKey: send, MPPERecvKey: recv}, nil
		}
		reject.MSCHAPError = mschap.FailureV2(691, r.Challenge)
	default:
		return nil, errors.New("fakeAAA: unsupported method")
	}
	return reject, nil
}

// testLNS is an LNS made of the parts the daemon's is made of — the L2TP
// carrier, the access layer in the server role, the data plane and the
// shared interface on a fake host — with the fake AAA and addresses from a
// counter (none when noAddress). An echo responder on the shared device
// answers pings, as the LNS host's stack would.
type testLNS struct {
	svc     *l2tpv2.Service
	plane   *dataplane.Plane
	acc     *access.Manager
	ifs     *vif.Manager
	strict  *strictSeq // nil: every datagram goes to the LNS
	aaa     *fakeAAA
	methods []aaa.Method

	nextAddr  atomic.Uint32
	noAddress bool

	done, echoDone chan struct{}
}

// lnsOptions change the in-memory LNS.
type lnsOptions struct {
	// l2tpnsLike makes the LNS handle control messages the way l2tpns
	// 2.4 does: it announces a Receive Window Size of 4 (l2tpns sends
	// none, which RFC 2661 §5.8 makes 4), drops every control message
	// whose Ns is not the next one expected, and sends no ZLB while it
	// has messages of its own unacknowledged (strictSeq).
	l2tpnsLike bool
}

func newTestLNS(net *memnet.Network, addr netip.AddrPort, a *fakeAAA, methods []aaa.Method, o lnsOptions) (*testLNS, error) {
	conn, err := net.Listen(addr)
	if err != nil {
		return nil, err
	}
	l := &testLNS{aaa: a, methods: methods, done: make(chan struct{}), echoDone: make(chan struct{})}
	host := netif.NewFakeHost()
	l.plane = dataplane.New(dataplane.Config{})
	if l.ifs, err = vif.New(vif.Config{Host: host, Shared: true, SharedMTU: 1460}); err != nil {
		return nil, err
	}
	shared := host.Device(vif.SharedName)
	if err := l.plane.SetShared(shared); err != nil {
		return nil, err
	}
	go l.answerEchoes(shared)
	l.acc, err = access.New(access.Config{Plane: l.plane, Interfaces: l.ifs, Runners: 2,
		Authenticator: func(string) aaa.Authenticator { return l.aaa },
		AssignAddress: func(*aaa.Authorization, string, string) (*aaa.Lease, error) {
			if l.noAddress {
				return nil, errors.New("pool exhausted")
			}
			n := l.nextAddr.Add(1)
			return &aaa.Lease{Addr: netip.AddrFrom4([4]byte{198, 19, byte(1 + n>>8), byte(n)})}, nil
		}})
	if err != nil {
		return nil, err
	}
	params := l2tp.TunnelParams{LocalName: "LNS", Hello: -1}
	var bind transport.Bind = conn
	if o.l2tpnsLike {
		params.RecvWindow = 4
		l.strict = &strictSeq{conn: conn, next: map[netip.AddrPort]uint16{},
			sent: map[netip.AddrPort]uint16{}, acked: map[netip.AddrPort]uint16{}}
		bind = strictBind{conn, l.strict}
	}
	prof := &access.Profile{Role: access.Server, Template: "Virtual-Template1", MTU: 1460, AuthMethods: methods,
		Hostname: "LNS", Password: "x", Local: netip.MustParseAddr("198.19.0.1"), Shared: true, VerifySource: true}
	l.svc, err = l2tpv2.New(l2tpv2.Config{Bind: bind, Plane: l.plane, Access: l.acc, Defaults: params,
		Profile: func(l2tp.TunnelStats) (*access.Profile, error) { return prof, nil }})
	if err != nil {
		conn.Close()
		return nil, err
	}
	go func() {
		defer close(l.done)
		l.svc.Serve()
	}()
	return l, nil
}

// answerEchoes turns the echo requests the shared device gets into
// replies.
func (l *testLNS) answerEchoes(dev *netif.Fake) {
	defer close(l.echoDone)
	answerEchoes(dev, l.done)
}

// answerEchoes answers the echo requests dev gets until done is closed.
func answerEchoes(dev *netif.Fake, done <-chan struct{}) {
	for {
		var b []byte
		select {
		case b = <-dev.Outbound:
		case <-done:
			return
		}
		if len(b) < 28 || b[0]>>4 != 4 || b[9] != 1 || b[20] != 8 {
			continue
		}
		r := append([]byte(nil), b...)
		copy(r[12:16], b[16:20])
		copy(r[16:20], b[12:16])
		r[20] = 0 // echo reply
		r[22], r[23] = 0, 0
		binary.BigEndian.PutUint16(r[22:], csum.Checksum(r[20:]))
		dev.Inject(r)
	}
}

// strictBind puts strictSeq on the LNS's bind.
type strictBind struct {
	*memnet.Conn
	s *strictSeq
}

func (b strictBind) ServeBatch(h func([]byte, netip.AddrPort), flush func()) error {
	return b.Conn.ServeBatch(func(p []byte, from netip.AddrPort) {
		if b.s.pass(p, from) {
			h(p, from)
		}
	}, flush)
}

func (b strictBind) WriteTo(p []byte, to netip.AddrPort) error { return b.s.WriteTo(p, to) }

// strictSeq is l2tpns's handling of control messages (l2tpns.c):
//   - processudp, "Out of sequence tunnel": a message whose Ns is not the
//     next expected is dropped — a ZLB acknowledgement too, and its Nr
//     with it — where RFC 2661 §5.8 lets a receiver hold messages ahead
//     of the expected Ns. Duplicates (Ns behind) go through: l2tpns
//     acknowledges them as the node does.
//   - controlnull: no ZLB while messages of its own are unacknowledged
//     ("they will carry the ack"), which they do only when sent, i.e.
//     retransmitted.
//
// pass filters what the LNS receives, WriteTo what it sends. One tunnel
// per LAC address, as in loadgen.
type strictSeq struct {
	conn *memnet.Conn

	mu      sync.Mutex
	next    map[netip.AddrPort]uint16 // Ns expected from each LAC
	sent    map[netip.AddrPort]uint16 // next Ns the LNS sends each LAC
	acked   map[netip.AddrPort]uint16 // Nr last accepted from each LAC
	dropped int                       // messages from LACs dropped
	zlbs    int                       // of which ZLBs
	muted   int                       // ZLBs of the LNS not sent
}

func (s *strictSeq) pass(b []byte, from netip.AddrPort) bool {
	h, err := wl2tp.ParseHeader(b)
	if err != nil || !h.IsControl() {
		return true
	}
	zlb := int(h.Length) <= h.PayloadOffset
	s.mu.Lock()
	defer s.mu.Unlock()
	if h.TunnelID == 0 && h.Ns == 0 && !zlb { // an SCCRQ: a new tunnel from this LAC
		s.next[from], s.sent[from], s.acked[from] = 0, 0, 0
	}
	want := s.next[from]
	switch {
	case h.Ns == want:
		if !zlb {
			s.next[from] = want + 1
		}
		s.acked[from] = h.Nr
		return true
	case want-h.Ns < 0x8000 && !zlb: // behind: a duplicate
		return true
	}
	s.dropped++
	if zlb {
		s.zlbs++
	}
	return false
}

func (s *strictSeq) WriteTo(b []byte, to netip.AddrPort) error {
	if h, err := wl2tp.ParseHeader(b); err == nil && h.IsControl() {
		zlb := int(h.Length) <= h.PayloadOffset
		s.mu.Lock()
		if !zlb && h.Ns+1-s.sent[to] < 0x8000 {
			s.sent[to] = h.Ns + 1
		}
		mute := zlb && s.acked[to] != s.sent[to]
		if mute {
			s.muted++
		}
		s.mu.Unlock()
		if mute {
			return nil
		}
	}
	return s.conn.WriteTo(b, to)
}

func (s *strictSeq) drops() (all, zlbs, muted int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped, s.zlbs, s.muted
}

func (l *testLNS) sessions() int { return l.acc.Len() }

func (l *testLNS) close() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // no §5.7 hold: the test is over
	l.acc.Close(access.CauseShutdown)
	l.svc.Close(ctx)
	l.svc.Bind().Close()
	<-l.done
	<-l.echoDone
	l.plane.ClearShared()
	l.plane.Close()
	l.ifs.Close()
}
