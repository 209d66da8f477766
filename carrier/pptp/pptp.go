// Package pptp is the PPTP carrier of the access layer (RFC 2637): it runs
// a proto/pptp node over TCP control connections, puts the data plane in
// front of a raw IP protocol 47 bind for the enhanced GRE of the calls,
// and turns every call into an access.Session — the calls clients place to
// us (Windows and pptp-linux send an Outgoing-Call-Request, so the
// concentrator is the PAC on the wire, what IOS calls its PNS or tunnel
// server), and the calls we place as a client (the PNS role). It is the
// adapter and nothing more: the codec is wire/pptp, the state machines
// proto/pptp, the GRE encapsulation and MPPE the data plane's, the PPP
// session the access layer's.
package pptp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/vpdn/vpdn/access"
	"github.com/vpdn/vpdn/dataplane"
	"github.com/vpdn/vpdn/internal/clock"
	ctl "github.com/vpdn/vpdn/proto/pptp"
	"github.com/vpdn/vpdn/transport"
	wpptp "github.com/vpdn/vpdn/wire/pptp"
)

// Config configures a Service.
type Config struct {
	// Role is the node's role on the wire: ctl.RolePAC for a tunnel server
	// answering clients, ctl.RolePNS for a client placing calls.
	Role ctl.Role
	// GRE is the raw IP protocol 47 bind of the calls' data.
	GRE    transport.Bind
	Plane  *dataplane.Plane
	Access *access.Manager
	Clock  clock.Clock  // nil: clock.Real
	Logger *slog.Logger // its and proto/pptp's Debug records are tagged debug="pptp-events[,error]"
	// Node configures the control plane; its Role, Clock, Logger and
	// callbacks are set by the service.
	Node ctl.Config
	// Profile gives the PPP profile of a call a client placed on a
	// control connection (by its peer, for the vpdn-group); an error
	// refuses the call. nil refuses every call.
	Profile func(conn ctl.ConnStats) (*access.Profile, error)
	// OnRefused is told about calls refused before PPP started.
	OnRefused func(c access.Cause, err error)
	// StaticRTT is `pptp flow-control static-rtt`: the round-trip time of
	// the calls' acknowledgement timeout (RFC 2637 Appendix A) instead of
	// the measured one; 0: measured.
	StaticRTT time.Duration
}

// Service is PPTP on one GRE bind and the control connections given to
// it.
type Service struct {
	cfg  Config
	node *ctl.Node
	port *dataplane.Port
	log  *slog.Logger

	mu    sync.Mutex
	calls map[*ctl.Call]*access.Session
}

// New returns a Service; Serve reads its GRE bind, ServeControl a
// listener's control connections.
func New(cfg Config) (*Service, error) {
	if cfg.GRE == nil || cfg.Plane == nil || cfg.Access == nil {
		return nil, errors.New("pptp: Config.GRE, Plane and Access are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{cfg: cfg, log: cfg.Logger, calls: map[*ctl.Call]*access.Session{}}
	nc := cfg.Node
	nc.Role, nc.Clock, nc.Logger = cfg.Role, cfg.Clock, cfg.Logger
	nc.OnCall, nc.OnCallUp, nc.OnCallDown = s.onCall, s.onCallUp, s.onCallDown
	n, err := ctl.NewNode(nc)
	if err != nil {
		return nil, err
	}
	s.node = n
	// GRE has no control messages: the control plane is the TCP stream.
	s.port = cfg.Plane.NewPort(cfg.GRE, dataplane.PPTPDecoder{}, nil)
	return s, nil
}

// Node returns the control plane, for show and clear commands.
func (s *Service) Node() *ctl.Node { return s.node }

// Serve reads the GRE bind until it is closed.
func (s *Service) Serve() error { return s.port.Serve() }

// ServeControl accepts control connections on ln (TCP port 1723) until it
// is closed.
func (s *Service) ServeControl(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		local, peer := addrOf(c.LocalAddr()), addrOf(c.RemoteAddr())
		if _, err := s.node.Serve(c, local, peer); err != nil {
			s.log.Debug("PPTP control connection refused", "peer", peer, "err", err, "debug", "pptp-events,error")
		}
	}
}

func addrOf(a net.Addr) netip.Addr {
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// Close sends StopCCRQ on every control connection and waits for them (or
// ctx). The access sessions on them end with their calls.
func (s *Service) Close(ctx context.Context) error { return s.node.Close(ctx) }

// bearer is one PPTP call as the access layer sees it.
type bearer struct {
	mu   sync.Mutex
	c    *ctl.Call // nil until a call we place is answered
	info access.BearerInfo
}

func (b *bearer) Close(c access.Cause) {
	b.mu.Lock()
	call := b.c
	b.mu.Unlock()
	if call != nil {
		call.Close(CDNResult(c))
	}
}

func (b *bearer) Info() access.BearerInfo {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.info
}

// set records the call and what its stats say of it.
func (b *bearer) set(c *ctl.Call) {
	st := c.Stats()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.c = c
	b.info = access.BearerInfo{Protocol: "PPTP", LocalID: uint32(st.LocalID),
		RemoteID: uint32(st.PeerID), TunnelID: uint32(st.ConnID), Peer: netip.AddrPortFrom(st.Peer, 0),
		CallingNumber: st.Params.DialingNumber, CalledNumber: st.Params.PhoneNumber,
		NASPortType: 5} // RFC 2865 §5.41: Virtual
}

func newBearer(c *ctl.Call) *bearer {
	b := &bearer{}
	b.set(c)
	return b
}

// spec is the data plane's view of a call: keyed by our call ID, from the
// peer's address (GRE has no ports), toward the peer's call ID.
func (s *Service) spec(c *ctl.Call) access.DataSpec {
	st := c.Stats()
	e := dataplane.NewPPTPEncap(st.PeerID)
	e.SetPeerWindow(st.PeerRecvWindow)
	e.SetStaticRTT(s.cfg.StaticRTT)
	return access.DataSpec{Key: dataplane.PPTPKey(st.LocalID), Peer: netip.AddrPortFrom(st.Peer, 0),
		Bind: s.cfg.GRE, Encap: e, AddressControl: true}
}

// onCall is a call a client placed (OCRQ on our PAC side): the session is
// opened and installed in the data plane before the OCRP answers it, so
// the client's first PPP frames find it.
func (s *Service) onCall(c *ctl.Call) {
	if s.cfg.Profile == nil {
		s.refuse(c, access.CauseConfig, errors.New("no PPP profile"))
		return
	}
	prof, err := s.cfg.Profile(c.Conn().Stats())
	if err != nil {
		s.refuse(c, access.CauseConfig, err)
		return
	}
	spec := s.spec(c)
	as, err := s.cfg.Access.Open(newBearer(c), spec, prof)
	if err != nil {
		cause := access.CauseOf(err)
		s.refuse(c, cause, err)
		return
	}
	watchAlarm(spec.Encap.(*dataplane.PPTPEncap), as)
	s.mu.Lock()
	s.calls[c] = as
	s.mu.Unlock()
	c.Accept()
}

func (s *Service) refuse(c *ctl.Call, cause access.Cause, err error) {
	s.log.Error("PPTP call refused", "peer", c.Stats().Peer, "err", err)
	result, code := refusal(cause)
	c.Reject(result, code)
	if f := s.cfg.OnRefused; f != nil {
		f(cause, err)
	}
}

// refusal is the OCRP result (RFC 2637 §2.8) refusing a call for cause c:
// no room is a general error of "no resource" (§2.16), anything else
// "do not accept" (7).
func refusal(c access.Cause) (uint8, wpptp.ErrorCode) {
	switch c {
	case access.CauseNoAddress, access.CauseResources:
		return uint8(wpptp.OCRPGeneralError), wpptp.ErrorNoResource
	}
	return uint8(wpptp.OCRPDoNotAccept), wpptp.ErrorNone
}

func (s *Service) lookup(c *ctl.Call) *access.Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[c]
}

// onCallUp: the call we accepted is established; PPP may start.
func (s *Service) onCallUp(c *ctl.Call) {
	if as := s.lookup(c); as != nil {
		as.LowerUp()
	}
}

// onCallDown: the call ended on the PPTP side (the peer's CDN or CCRQ,
// the control connection gone, our own CDN after the access layer closed
// it).
func (s *Service) onCallDown(c *ctl.Call, err error) {
	s.mu.Lock()
	as := s.calls[c]
	delete(s.calls, c)
	s.mu.Unlock()
	if as != nil {
		as.LowerDown(access.CauseLostService, fmt.Sprint(err))
	}
}

// Dial opens a control connection to peer over stream (a TCP connection
// to port 1723 the caller opened from local), places a call on it (OCRQ:
// we are the PNS, as a PC client is) and runs PPP on it with prof.
//
// The session is installed in the data plane under our call ID before
// the OCRQ goes out, and holds the PPP frames that arrive before the call
// is answered: the PAC starts LCP as it sends its OCRP, and its first GRE
// packet often overtakes the OCRP on the TCP stream (which cost a 3 s LCP
// restart to a third of the calls of a load test).
func (s *Service) Dial(ctx context.Context, stream ctl.Stream, local, peer netip.Addr, prof *access.Profile) (*access.Session, error) {
	conn, err := s.node.Dial(ctx, stream, local, peer)
	if err != nil {
		return nil, err
	}
	b := &bearer{info: access.BearerInfo{Protocol: "PPTP", Peer: netip.AddrPortFrom(peer, 0), NASPortType: 5}}
	encap := dataplane.NewPPTPEncap(0) // the peer's call ID comes with its reply
	encap.SetStaticRTT(s.cfg.StaticRTT)
	var as *access.Session
	var openErr error
	params := ctl.CallParams{Ready: func(localID uint16) {
		b.mu.Lock()
		b.info.LocalID = uint32(localID)
		b.mu.Unlock()
		as, openErr = s.cfg.Access.Open(b, access.DataSpec{Key: dataplane.PPTPKey(localID), Peer: netip.AddrPortFrom(peer, 0),
			Bind: s.cfg.GRE, Encap: encap, AddressControl: true, HoldEarly: true}, prof)
	}}
	c, err := conn.Call(ctx, params)
	if err != nil {
		if as != nil {
			as.LowerDown(access.CauseLostService, err.Error())
		}
		conn.Close(wpptp.StopNone)
		return nil, err
	}
	if openErr != nil {
		c.Close(CDNResult(access.CauseOf(openErr)))
		conn.Close(wpptp.StopNone)
		return nil, openErr
	}
	b.set(c)
	watchAlarm(encap, as)
	st := c.Stats()
	e := encap.WithPeerCallID(st.PeerID)
	e.SetPeerWindow(st.PeerRecvWindow)
	as.Data().SetEncap(e)
	s.mu.Lock()
	s.calls[c] = as
	s.mu.Unlock()
	select {
	case <-c.Done():
		// Ended before we recorded it: onCallDown found nothing.
		as.LowerDown(access.CauseLostService, fmt.Sprint(c.Err()))
		return nil, c.Err()
	default:
	}
	as.LowerUp()
	return as, nil
}

// watchAlarm hands the call's flow-control alarm to its session: stateful
// MPPE falls back to stateless (document 001). The alarm runs on the data
// path, with the send lock held: FlowAlarm only posts to the session's
// runner, it never sends.
func watchAlarm(e *dataplane.PPTPEncap, as *access.Session) {
	e.SetAlarm(func() { as.FlowAlarm("PPTP flow alarm (" + e.Flow().AlarmCauses + ")") })
}

// CDNResult is the Call-Disconnect-Notify result (RFC 2637 §2.13) for a
// call that ends with cause c: a peer that stopped answering is a lost
// carrier (1); the administrator's or this node's doing administrative
// (3); failures of authentication, negotiation, addressing or the
// interface a general error (2).
func CDNResult(c access.Cause) wpptp.CDNResult {
	switch c {
	case access.CauseLostCarrier, access.CauseLostService:
		return wpptp.CDNLostCarrier
	case access.CauseAuthFailed, access.CauseNegotiation, access.CauseInterface, access.CauseConfig,
		access.CauseNoAddress, access.CauseResources:
		return wpptp.CDNGeneralError
	}
	return wpptp.CDNAdminShutdown
}
