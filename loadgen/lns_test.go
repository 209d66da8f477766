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
	"github.com/vpdn/vpdn/proto/l2tp"
	"github.com/vpdn/vpdn/proto/ppp"
	"github.com/vpdn/vpdn/transport/memnet"
	wl2tp "github.com/vpdn/vpdn/wire/l2tp"
	wppp "github.com/vpdn/vpdn/wire/ppp"
	"github.com/vpdn/vpdn/wire/vnet"
)

// fakeAAA accepts one user with one password, by PAP, CHAP or MS-CHAPv2.
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
		ok, authResp, _, err := mschap.VerifyV2(r.Challenge, r.Response, r.Username, mschap.NTPasswordHash(f.password))
		if err != nil {
			return nil, err
		}
		if ok {
			return &aaa.Result{Accept: true, MSCHAPv2Success: authResp}, nil
		}
		reject.MSCHAPError = mschap.FailureV2(691, r.Challenge)
	default:
		return nil, errors.New("fakeAAA: unsupported method")
	}
	return reject, nil
}

// testLNS is a small LNS made of proto/l2tp and proto/ppp server links:
// it authenticates with methods and hands out addresses from a counter
// (none when noAddress).
type testLNS struct {
	node    *l2tp.Node
	conn    *memnet.Conn
	strict  *strictSeq // nil: every datagram goes to the node
	runners []*ppp.Runner
	aaa     *fakeAAA
	methods []aaa.Method

	next      atomic.Uint32
	nextAddr  atomic.Uint32
	noAddress bool

	mu    sync.Mutex
	links map[*l2tp.Session]*lnsSession
	up    atomic.Int64
}

type lnsSession struct {
	s    *l2tp.Session
	run  *ppp.Runner
	link *ppp.Link
}

func (h *lnsSession) Up(ev ppp.UpEvent) {}
func (h *lnsSession) Down(ev ppp.DownEvent) {
	if ev.Protocol == wppp.ProtoLCP {
		h.s.Close(wl2tp.Result{Code: wl2tp.CDNGeneralError, Message: ev.Reason})
	}
}

// Packet answers ICMP echo requests, as the LNS host's stack would.
func (h *lnsSession) Packet(proto wppp.Protocol, b []byte) {
	if proto != wppp.ProtoIPv4 || len(b) < 28 || b[9] != 1 || b[20] != 8 {
		return
	}
	buf := make([]byte, wppp.MaxHeaderLen+len(b))
	r := buf[wppp.MaxHeaderLen:]
	copy(r, b)
	copy(r[12:16], b[16:20])
	copy(r[16:20], b[12:16])
	r[20] = 0 // echo reply
	r[22], r[23] = 0, 0
	binary.BigEndian.PutUint16(r[22:], vnet.Checksum(r[20:]))
	h.link.SendPacket(wppp.ProtoIPv4, buf, wppp.MaxHeaderLen)
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
	l := &testLNS{conn: conn, aaa: a, methods: methods, links: map[*l2tp.Session]*lnsSession{}}
	for range 2 {
		l.runners = append(l.runners, ppp.NewRunner())
	}
	params := l2tp.TunnelParams{LocalName: "LNS", Hello: -1}
	if o.l2tpnsLike {
		params.RecvWindow = 4
		l.strict = &strictSeq{conn: conn, next: map[netip.AddrPort]uint16{},
			sent: map[netip.AddrPort]uint16{}, acked: map[netip.AddrPort]uint16{}}
	}
	var out l2tp.Conn = conn
	if l.strict != nil {
		out = l.strict
	}
	l.node, err = l2tp.NewNode(l2tp.Config{Conn: out,
		Defaults:      params,
		OnSessionUp:   l.sessionUp,
		OnSessionDown: l.sessionDown,
	})
	if err != nil {
		conn.Close()
		return nil, err
	}
	go conn.Serve(func(b []byte, from netip.AddrPort) {
		if l.strict == nil || l.strict.pass(b, from) {
			l.node.HandlePacket(b, from)
		}
	})
	return l, nil
}

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

func (l *testLNS) sessionUp(s *l2tp.Session) {
	h := &lnsSession{s: s, run: l.runners[l.next.Add(1)%uint32(len(l.runners))]}
	l.mu.Lock()
	l.links[s] = h
	l.mu.Unlock()
	cfg := ppp.Config{Post: h.run.Post, Handler: h, AddressControl: true,
		Output: ppp.OutputFunc(s.WriteFrame),
		Auth:   ppp.AuthConfig{Methods: l.methods, AAA: l.aaa, Hostname: "LNS", Password: "x"},
		IPCP: ppp.IPCPConfig{Local: netip.MustParseAddr("198.19.0.1"),
			Allocate: func(*aaa.Authorization) (netip.Addr, error) {
				if l.noAddress {
					return netip.Addr{}, errors.New("pool exhausted")
				}
				n := l.nextAddr.Add(1)
				return netip.AddrFrom4([4]byte{198, 19, byte(1 + n>>8), byte(n)}), nil
			}},
	}
	s.SetReceiver(func(frame []byte) {
		cp := append([]byte(nil), frame...)
		h.run.Post(func() {
			if h.link != nil {
				h.link.Input(cp)
			}
		})
	})
	h.run.Post(func() {
		link, err := ppp.NewLink(cfg)
		if err != nil {
			s.Close(wl2tp.Result{Code: wl2tp.CDNGeneralError})
			return
		}
		h.link = link
		link.Start()
	})
}

func (l *testLNS) sessionDown(s *l2tp.Session, _ error) {
	l.mu.Lock()
	h := l.links[s]
	delete(l.links, s)
	l.mu.Unlock()
	if h != nil {
		h.run.Post(func() {
			if h.link != nil {
				h.link.LowerDown()
			}
		})
	}
}

func (l *testLNS) sessions() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.links)
}

func (l *testLNS) close() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // no §5.7 hold: the test is over
	l.node.Close(ctx)
	l.conn.Close()
	for _, r := range l.runners {
		r.Close()
	}
}
