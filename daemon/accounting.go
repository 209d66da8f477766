package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/aaa/radius"
	"github.com/vpdn/vpdn/access"
	"github.com/vpdn/vpdn/config"
)

// DefaultAcctSpool is the accounting spool directory when Options gives
// none (vpdn serve --acct-spool).
const DefaultAcctSpool = "/var/lib/vpdn/acct-spool"

// acctMethod is what an `aaa accounting network LIST` resolves to: its
// first method (IOS falls back to the next only when one is unusable).
type acctMethod struct {
	group    string // a RADIUS server group; "" for local
	stopOnly bool
	local    bool
}

// accountingLists turns the accounting method lists of c into methods by
// list name; `none` lists are absent (no accounting).
func accountingLists(c *config.Config) map[string]acctMethod {
	out := map[string]acctMethod{}
	for _, l := range c.AAA.Accounting {
		if l.Record == "" || l.Record == "none" || len(l.Methods) == 0 {
			continue
		}
		m := acctMethod{stopOnly: l.Record == "stop-only"}
		switch first := l.Methods[0]; {
		case strings.HasPrefix(first, "group "):
			m.group = strings.TrimPrefix(first, "group ")
		case first == "local":
			m.local = true
		default:
			continue
		}
		out[l.Name] = m
	}
	return out
}

// systemAccounting is `aaa accounting system default RECORD group G`:
// the group, and whether Accounting-On (start-stop) and -Off (start-stop,
// stop-only) are sent; group "" for none.
func systemAccounting(c *config.Config) (group string, on, off bool) {
	for _, l := range c.AAA.SystemAccounting {
		if l.Name != aaa.DefaultList || len(l.Methods) == 0 || !strings.HasPrefix(l.Methods[0], "group ") {
			continue
		}
		switch l.Record {
		case "start-stop":
			return strings.TrimPrefix(l.Methods[0], "group "), true, true
		case "stop-only":
			return strings.TrimPrefix(l.Methods[0], "group "), false, true
		}
	}
	return "", false, false
}

// acctState is the daemon's accounting: the RADIUS spool and sender (made
// when a list first names a server group; it lives as long as the
// daemon, across reloads) and the records kept in memory for `local`.
type acctState struct {
	mu     sync.Mutex
	radius *radius.Accounting // under mu
	memory *aaa.MemoryAccounter
}

// ensureAccounting makes the RADIUS accounting sender if c's lists need
// one: it opens the spool and takes over what a previous run left.
func (d *Daemon) ensureAccounting(c *config.Config) error {
	need := false
	for _, m := range accountingLists(c) {
		need = need || m.group != ""
	}
	sysGroup, on, _ := systemAccounting(c)
	need = need || sysGroup != ""
	d.acct.mu.Lock()
	defer d.acct.mu.Unlock()
	if !need || d.acct.radius != nil {
		return nil
	}
	cl := d.radiusClient()
	if cl == nil {
		return errors.New("accounting to a RADIUS group, but no RADIUS server is configured")
	}
	dir := d.opts.AcctSpoolDir
	if dir == "" {
		dir = DefaultAcctSpool
	}
	a, err := radius.NewAccounting(radius.AccountingConfig{Client: cl, Dir: dir, Clock: radiusClock{d.opts.Clock},
		Logger: d.log, Debug: d.opts.Debug.Logger(d.log, "aaa accounting")})
	if err != nil {
		return fmt.Errorf("accounting spool: %w", err)
	}
	d.acct.radius = a
	d.log.Info("accounting spool open", "dir", dir)
	if on {
		// RFC 2866 §5.1: this NAS starts serving. The accounting is made
		// before the access layer, so this comes before any Start; the
		// spool holds the group's later records until it is
		// acknowledged.
		if err := a.System(sysGroup, true); err != nil {
			d.log.Error("Accounting-On", "err", err)
		}
	}
	return nil
}

func (d *Daemon) radiusAccounting() *radius.Accounting {
	d.acct.mu.Lock()
	defer d.acct.mu.Unlock()
	return d.acct.radius
}

// accounter is the access layer's Accounter: the accounter of the
// session's list, else the default list's; nil for none.
func (d *Daemon) accounter(list string) aaa.Accounter {
	lists := d.svc.Load().acct
	m, ok := lists[list]
	if !ok && (list == "" || list == aaa.DefaultList) {
		m, ok = lists[aaa.DefaultList]
	}
	if !ok {
		return nil
	}
	if m.local {
		return d.acct.memory
	}
	a := d.radiusAccounting()
	if a == nil {
		return nil
	}
	return a.List(m.group, m.stopOnly)
}

// interimInterval is `aaa accounting update periodic N`.
func (d *Daemon) interimInterval() time.Duration {
	if r := d.Config().AAA.RADIUS; r != nil {
		return time.Duration(r.AccountingUpdate) * time.Minute
	}
	return 0
}

// accountingNewInfo is `aaa accounting update newinfo`.
func (d *Daemon) accountingNewInfo() bool {
	r := d.Config().AAA.RADIUS
	return r != nil && r.AccountingNewInfo
}

// closeAccounting waits a little for the last records (the sessions'
// Stops at shutdown), then stops sending; the rest stays spooled.
func (d *Daemon) closeAccounting() {
	d.acct.mu.Lock()
	a := d.acct.radius
	d.acct.radius = nil
	d.acct.mu.Unlock()
	if a == nil {
		return
	}
	if g, _, off := systemAccounting(d.Config()); off {
		// RFC 2866 §5.1: this NAS stops serving, after the sessions'
		// Stops; spooled, so a server that is down hears it at the next
		// start.
		if err := a.System(g, false); err != nil {
			d.log.Error("Accounting-Off", "err", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	a.Close(ctx)
}

// dynAuth is the RFC 5176 server of `aaa server radius dynamic-author`.
type dynAuth struct {
	mu     sync.Mutex
	srv    *radius.DynAuthServer // under mu
	listen netip.AddrPort        // under mu
	done   chan struct{}
}

// applyDynAuth starts, reconfigures or stops the dynamic authorization
// server for c.
func (d *Daemon) applyDynAuth(c *config.Config) error {
	var da *config.DynamicAuthor
	if c.AAA.RADIUS != nil {
		da = c.AAA.RADIUS.DynamicAuthor
	}
	d.dyn.mu.Lock()
	defer d.dyn.mu.Unlock()
	var want netip.AddrPort
	var clients []radius.DynAuthClient
	var nas radius.NAS
	if da != nil {
		rc, err := radiusConfig(c)
		if err != nil {
			return err
		}
		nas = rc.NAS
		port := da.Port
		if port == 0 {
			port = radius.DefaultDynAuthPort
		}
		src := rc.Source
		if !src.IsValid() {
			src = netip.IPv4Unspecified()
		}
		want = netip.AddrPortFrom(src, uint16(port))
		for _, cl := range da.Clients {
			k := cl.Key
			if k.IsZero() {
				k = da.Key
			}
			secret, err := clearSecret(k)
			if err != nil {
				return fmt.Errorf("line %d: dynamic-author client %s: %w", cl.Line, cl.Addr, err)
			}
			clients = append(clients, radius.DynAuthClient{Addr: cl.Addr, Secret: secret})
		}
	}
	if d.dyn.srv != nil && (da == nil || want != d.dyn.listen) {
		d.dyn.srv.Close()
		<-d.dyn.done
		d.dyn.srv = nil
	}
	if da == nil {
		return nil
	}
	if d.dyn.srv != nil {
		return d.dyn.srv.SetClients(clients, nas)
	}
	b, err := d.opts.Binds.ListenUDP(want)
	if err != nil {
		return fmt.Errorf("aaa server radius dynamic-author: %w", err)
	}
	srv, err := radius.NewDynAuthServer(radius.DynAuthConfig{Bind: b, Clients: clients, NAS: nas, Handler: dynAuthHandler{d},
		Clock: radiusClock{d.opts.Clock}, Logger: d.log, Debug: d.opts.Debug.Logger(d.log, "radius")})
	if err != nil {
		b.Close()
		return err
	}
	d.dyn.srv, d.dyn.listen, d.dyn.done = srv, want, make(chan struct{})
	done := d.dyn.done
	go func() {
		defer close(done)
		if err := srv.Serve(); err != nil {
			d.log.Error("dynamic-author socket", "err", err)
		}
	}()
	d.log.Info("radius dynamic-author listening", "address", b.LocalAddr().String())
	return nil
}

func (d *Daemon) stopDynAuth() {
	d.dyn.mu.Lock()
	defer d.dyn.mu.Unlock()
	if d.dyn.srv != nil {
		d.dyn.srv.Close()
		<-d.dyn.done
		d.dyn.srv = nil
	}
}

func (d *Daemon) dynAuthStats() *radius.DynAuthStats {
	d.dyn.mu.Lock()
	defer d.dyn.mu.Unlock()
	if d.dyn.srv == nil {
		return nil
	}
	st := d.dyn.srv.Stats()
	return &st
}

// dynAuthHandler applies Disconnect and CoA requests to the access
// layer's sessions.
type dynAuthHandler struct{ d *Daemon }

// disconnectWait bounds the wait for the sessions a Disconnect-Request
// ends, so that the ACK follows the teardown (the CDN sent, the Stop
// spooled) without holding the request for ever.
const disconnectWait = 5 * time.Second

func (h dynAuthHandler) find(m radius.SessionMatch) []*access.Session {
	rt := h.d.rt.Load()
	if rt == nil {
		return nil
	}
	var out []*access.Session
	for _, s := range rt.access.Sessions() {
		v := s.View()
		if !v.Up || v.Role != access.Server {
			continue
		}
		if m.SessionID != "" && m.SessionID != v.ID || m.User != "" && !strings.EqualFold(m.User, v.User) ||
			m.Addr.IsValid() && m.Addr != v.Peer || m.Port != "" && m.Port != v.Interface ||
			m.HasPortNumber && m.PortNumber != v.PortNumber {
			continue
		}
		out = append(out, s)
	}
	return out
}

func (h dynAuthHandler) Disconnect(m radius.SessionMatch) int {
	ss := h.find(m)
	for _, s := range ss {
		s.Close(access.CauseAdmin, "RADIUS Disconnect-Request")
	}
	t := time.NewTimer(disconnectWait)
	defer t.Stop()
	for _, s := range ss {
		select {
		case <-s.Done():
		case <-t.C:
			return len(ss)
		}
	}
	return len(ss)
}

func (h dynAuthHandler) Change(m radius.SessionMatch, c radius.Change) int {
	n := 0
	for _, s := range h.find(m) {
		ok := s.SetTimeouts(c.SessionTimeout, c.IdleTimeout)
		if ok && c.InterimInterval != nil {
			ok = s.SetInterimInterval(*c.InterimInterval)
		}
		if ok {
			n++
		}
	}
	return n
}

// acctSessionsView is `show aaa sessions`: the live sessions with their
// accounting identity, and the spool's sessions not yet acknowledged.
type acctSessionsView struct {
	Total    uint64                  `json:"total_since_start"`
	Sessions []acctSessionView       `json:"sessions"`
	Spool    []radius.SpooledSession `json:"spool"`
	Stats    *radius.AccountingStats `json:"accounting,omitempty"`
	DynAuth  *radius.DynAuthStats    `json:"dynamic_author,omitempty"`
}

type acctSessionView struct {
	ID        string        `json:"id"`
	Interface string        `json:"interface"`
	User      string        `json:"user"`
	Address   string        `json:"address"`
	Idle      time.Duration `json:"idle_ns"`
	Timeout   time.Duration `json:"session_timeout_ns"`
}

func (d *Daemon) acctSessions() acctSessionsView {
	v := acctSessionsView{Total: d.sessionsTotal.Load(), Sessions: []acctSessionView{}, Spool: []radius.SpooledSession{}}
	if rt := d.rt.Load(); rt != nil {
		for _, s := range rt.access.Sessions() {
			sv := s.View()
			if !sv.Up {
				continue
			}
			a := acctSessionView{ID: sv.ID, Interface: sv.Interface, User: sv.User, Idle: sv.Timeouts.IdleFor, Timeout: sv.Timeouts.Session}
			if sv.Peer.IsValid() {
				a.Address = sv.Peer.String()
			}
			v.Sessions = append(v.Sessions, a)
		}
	}
	if a := d.radiusAccounting(); a != nil {
		st := a.Stats()
		v.Stats = &st
		for _, s := range a.Sessions() {
			if len(s.Pending) > 0 {
				v.Spool = append(v.Spool, s)
			}
		}
	}
	v.DynAuth = d.dynAuthStats()
	slices.SortFunc(v.Sessions, func(a, b acctSessionView) int { return strings.Compare(a.ID, b.ID) })
	return v
}

// renderAAASessions prints `show aaa sessions` in IOS's layout, one block
// per session, then what the accounting spool still holds.
func renderAAASessions(v acctSessionsView) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Total sessions since last reload: %d\n", v.Total)
	for _, s := range v.Sessions {
		fmt.Fprintf(&b, "Session Id: %s\n", s.ID)
		fmt.Fprintf(&b, "   Unique Id: %s\n", s.ID)
		fmt.Fprintf(&b, "   User Name: %s\n", orNA(s.User))
		fmt.Fprintf(&b, "   IP Address: %s\n", orNA(s.Address))
		fmt.Fprintf(&b, "   Interface: %s\n", s.Interface)
		fmt.Fprintf(&b, "   Idle Time: %d\n", int64(s.Idle/time.Second))
		if s.Timeout > 0 {
			fmt.Fprintf(&b, "   Session Timeout: %d\n", int64(s.Timeout/time.Second))
		}
	}
	if st := v.Stats; st != nil {
		fmt.Fprintf(&b, "Accounting spool: %d sessions (%d octets), %d with records pending\n", st.Records, st.Bytes, st.Pending)
		for _, s := range v.Spool {
			fmt.Fprintf(&b, "   %s group %s: %s pending, %d attempts\n", s.ID, s.Group, strings.Join(s.Pending, ", "), s.Attempts)
		}
	}
	return b.String()
}

func orNA(s string) string {
	if s == "" {
		return "*not available*"
	}
	return s
}
