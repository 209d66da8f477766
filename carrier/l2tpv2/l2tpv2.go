// Package l2tpv2 is the L2TPv2 carrier of the access layer: it runs a
// proto/l2tp node on a UDP bind, puts the data plane in front of it, and
// turns every call into an access.Session — a call a LAC places to us
// (LNS), and calls we place (LAC: Virtual-PPP pseudowires, vpdn dial, the
// load generator). It is the adapter between the two, and nothing more:
// the codec is wire/l2tp, the state machines proto/l2tp, the encapsulation
// dataplane's, the PPP session the access layer's.
package l2tpv2

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"

	"github.com/vpdn/vpdn/access"
	"github.com/vpdn/vpdn/dataplane"
	"github.com/vpdn/vpdn/internal/clock"
	"github.com/vpdn/vpdn/proto/l2tp"
	"github.com/vpdn/vpdn/transport"
	wl2tp "github.com/vpdn/vpdn/wire/l2tp"
)

// Config configures a Service.
type Config struct {
	Bind   transport.Bind
	Plane  *dataplane.Plane
	Access *access.Manager
	Clock  clock.Clock  // nil: clock.Real
	Logger *slog.Logger // the l2x debug switches' records
	Limits l2tp.Limits
	Seed   uint64
	// Incoming decides whether a peer that sent SCCRQ may open a tunnel,
	// and with which parameters (the vpdn-group match of an LNS); nil
	// accepts every peer with Defaults.
	Incoming func(peer netip.AddrPort, hostname string) (l2tp.TunnelParams, bool)
	Defaults l2tp.TunnelParams
	// Profile gives the PPP profile of a call a peer opened on a tunnel
	// (by its vpdn-group, TunnelStats.Class); an error refuses the call
	// with the cause's CDN. nil refuses every call.
	Profile func(t l2tp.TunnelStats) (*access.Profile, error)
	// OnRefused is told about calls refused before PPP started.
	OnRefused func(c access.Cause, err error)
	// OnL2TPv3 receives the L2TPv3 control messages (version 3, RFC 3931
	// §4.1.2.1) that arrive on the shared UDP port 1701; nil drops them.
	OnL2TPv3 func(b []byte, from netip.AddrPort)
}

// Service is L2TPv2 on one bind.
type Service struct {
	cfg  Config
	node *l2tp.Node
	port *dataplane.Port
	log  *slog.Logger

	mu    sync.Mutex
	calls map[*l2tp.Session]*access.Session
}

// New returns a Service; Serve reads its bind.
func New(cfg Config) (*Service, error) {
	if cfg.Bind == nil || cfg.Plane == nil || cfg.Access == nil {
		return nil, errors.New("l2tpv2: Config.Bind, Plane and Access are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{cfg: cfg, log: cfg.Logger, calls: map[*l2tp.Session]*access.Session{}}
	n, err := l2tp.NewNode(l2tp.Config{
		Conn: cfg.Bind, Clock: cfg.Clock, Logger: cfg.Logger, Limits: cfg.Limits, Seed: cfg.Seed,
		Incoming: cfg.Incoming, Defaults: cfg.Defaults,
		OnCall: s.onCall, OnSessionUp: s.onSessionUp, OnSessionDown: s.onSessionDown, OnL2TPv3: cfg.OnL2TPv3,
	})
	if err != nil {
		return nil, err
	}
	s.node = n
	s.port = cfg.Plane.NewPort(cfg.Bind, dataplane.L2TPv2Decoder{}, n.HandlePacket)
	return s, nil
}

// Node returns the L2TP node, for show and clear commands.
func (s *Service) Node() *l2tp.Node { return s.node }

// Bind returns the service's bind.
func (s *Service) Bind() transport.Bind { return s.cfg.Bind }

// Serve reads the bind until it is closed: control messages go to the
// node, data messages to the data plane's sessions.
func (s *Service) Serve() error { return s.port.Serve() }

// Port returns the data plane's port of the bind (tests feed it).
func (s *Service) Port() *dataplane.Port { return s.port }

// Close sends StopCCN (result 6) on every tunnel and waits for their
// goroutines (or ctx). The access sessions on them end with the tunnels;
// end them first (access.Manager.Close) for a CDN each.
func (s *Service) Close(ctx context.Context) error { return s.node.Close(ctx) }

// bearer is one L2TP session as the access layer sees it.
type bearer struct {
	s    *l2tp.Session
	info access.BearerInfo
}

func (b *bearer) Close(c access.Cause) { b.s.Close(CDNResult(c)) }
func (b *bearer) Info() access.BearerInfo {
	return b.info
}

func newBearer(ls *l2tp.Session, in l2tp.SessionInfo) *bearer {
	return &bearer{s: ls, info: access.BearerInfo{Protocol: "L2TP", LocalID: uint32(in.LocalSessionID),
		RemoteID: uint32(in.RemoteSessionID), TunnelID: uint32(in.LocalTunnelID), Peer: in.Peer,
		TunnelName: in.PeerName, CallingNumber: in.Call.CallingNumber, CalledNumber: in.Call.CalledNumber,
		NASPortType: 5}} // RFC 2865 §5.41: Virtual
}

func (s *Service) spec(in l2tp.SessionInfo) access.DataSpec {
	return access.DataSpec{Key: dataplane.L2TPv2Key(in.LocalTunnelID, in.LocalSessionID), Peer: in.Peer,
		Bind: s.cfg.Bind, Encap: dataplane.NewL2TPv2Encap(in.RemoteTunnelID, in.RemoteSessionID, in.Sequencing),
		AddressControl: true}
}

// onCall is a call a peer opened (ICRQ; OCRQ on a LAC): the session is
// opened and installed in the data plane before ICRP answers it, so the
// peer's first PPP frames, which follow its ICCN at once, find it.
func (s *Service) onCall(c *l2tp.Call) {
	if c.Outgoing {
		// OCRQ: vpdn places no calls on a telephone side.
		s.refuse(c, access.CauseConfig, errors.New("outgoing calls are not supported"))
		return
	}
	if s.cfg.Profile == nil {
		s.refuse(c, access.CauseConfig, errors.New("no PPP profile"))
		return
	}
	prof, err := s.cfg.Profile(c.Tunnel)
	if err != nil {
		s.refuse(c, access.CauseConfig, err)
		return
	}
	in := c.Session.Info()
	as, err := s.cfg.Access.Open(newBearer(c.Session, in), s.spec(in), prof)
	if err != nil {
		cause := access.CauseOf(err)
		s.refuse(c, cause, err)
		return
	}
	s.mu.Lock()
	s.calls[c.Session] = as
	s.mu.Unlock()
	c.Accept()
}

func (s *Service) refuse(c *l2tp.Call, cause access.Cause, err error) {
	s.log.Error("L2TP session refused", "tunnel", c.Tunnel.LocalID, "err", err)
	r := CDNResult(cause)
	r.Message = err.Error()
	r.HasError = true
	c.Reject(r)
	if f := s.cfg.OnRefused; f != nil {
		f(cause, err)
	}
}

func (s *Service) lookup(ls *l2tp.Session) *access.Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[ls]
}

// onSessionUp is the ICCN of a call we accepted: sequencing is settled
// now, and PPP may start.
func (s *Service) onSessionUp(ls *l2tp.Session) {
	as := s.lookup(ls)
	if as == nil {
		return
	}
	if in := ls.Info(); in.Sequencing {
		if e, ok := as.Data().Encap().(*dataplane.L2TPv2Encap); ok {
			as.Data().SetEncap(e.WithSequencing(true))
		}
	}
	as.LowerUp()
}

// onSessionDown: the call ended on the L2TP side (the peer's CDN, the
// tunnel gone, our own CDN after the access layer closed it).
func (s *Service) onSessionDown(ls *l2tp.Session, err error) {
	s.mu.Lock()
	as := s.calls[ls]
	delete(s.calls, ls)
	s.mu.Unlock()
	if as != nil {
		c := access.CauseLostService
		if errors.Is(err, l2tp.ErrLimit) {
			// A half-open call evicted for a newer one (issue 13): the
			// node's bound, not the peer, ended it.
			c = access.CauseResources
		}
		as.LowerDown(c, fmt.Sprint(err))
	}
}

// Dial places a call to peer (the LAC side of an incoming call, RFC 2661
// §7.3), on a tunnel shared with earlier calls of the same parameters, and
// runs PPP on it with prof. The session is installed in the data plane
// when the LNS answers, before our ICCN, so that none of its first frames
// is lost.
func (s *Service) Dial(ctx context.Context, peer netip.AddrPort, tp l2tp.TunnelParams, cp l2tp.CallParams, prof *access.Profile) (*access.Session, error) {
	var as *access.Session
	var openErr error
	cp.Ready = func(ls *l2tp.Session, in l2tp.SessionInfo) {
		// On the tunnel goroutine: Open does not block.
		as, openErr = s.cfg.Access.Open(newBearer(ls, in), s.spec(in), prof)
		if openErr == nil {
			s.mu.Lock()
			s.calls[ls] = as
			s.mu.Unlock()
		}
	}
	ls, err := s.node.Dial(ctx, peer, tp, cp)
	if err != nil {
		if as != nil {
			s.mu.Lock()
			for k, v := range s.calls {
				if v == as {
					delete(s.calls, k)
				}
			}
			s.mu.Unlock()
			as.LowerDown(access.CauseLostService, err.Error())
		}
		return nil, err
	}
	if openErr != nil {
		cause := access.CauseOf(openErr)
		ls.Close(CDNResult(cause))
		return nil, openErr
	}
	as.LowerUp()
	return as, nil
}

// CDNResult is the CDN result (RFC 2661 §4.4.2) for a session that ends
// with cause c: the administrator's or this node's doing is administrative
// (3); a peer that stopped answering is a lost carrier (1); no address or
// no room a temporary lack of facilities (4, error 4: insufficient
// resources); authentication, negotiation, interface and configuration
// failures a general error (2, error 6: vendor-specific, with the cause as
// the message).
func CDNResult(c access.Cause) wl2tp.Result {
	switch c {
	case access.CauseLostCarrier, access.CauseLostService:
		return wl2tp.Result{Code: wl2tp.CDNLostCarrier}
	case access.CauseNoAddress, access.CauseResources:
		return wl2tp.Result{Code: wl2tp.CDNNoFacilitiesTmp, Error: wl2tp.ErrCodeResources, HasError: true, Message: c.String()}
	case access.CauseAuthFailed, access.CauseNegotiation, access.CauseInterface, access.CauseConfig:
		return wl2tp.Result{Code: wl2tp.CDNGeneralError, Error: wl2tp.ErrCodeVendor, HasError: true, Message: c.String()}
	}
	return wl2tp.Result{Code: wl2tp.CDNAdmin}
}
