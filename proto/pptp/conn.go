package pptp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/vpdn/vpdn/internal/clock"
	"github.com/vpdn/vpdn/wire/pptp"
)

// inMsg is one message (or the stream's end) from the reader goroutine.
type inMsg struct {
	m   pptp.Message
	err error
}

// Conn is one PPTP control connection and its calls. Two goroutines
// serve it, and a third while there is something to write: the reader
// cuts messages off the stream (holding at most one message,
// pptp.MaxMessageLen octets) and hands them over one at a time, so a peer
// that sends faster than we process is slowed by TCP; run owns every
// state of the connection and its calls and selects over messages, API
// commands and one timer; the writer is started when a message is queued
// and ends when the queue is empty, so an idle connection (most of a
// PPTP connection's life: an echo a minute) costs no writer's stack.
// Other goroutines read that state only under mu, for the stats.
type Conn struct {
	n          *Node
	id         uint64
	s          Stream
	local      netip.Addr
	peer       netip.Addr
	originator bool

	in       chan inMsg
	up       chan struct{} // closed when established
	done     chan struct{} // closed when every goroutine of the connection is gone
	killc    chan struct{}
	killOnce sync.Once

	// API commands, run on the goroutine: a queue and a kick, so that a
	// command never blocks the caller, even from a callback.
	qmu      sync.Mutex
	cmds     []func()
	finished bool
	kick     chan struct{}

	// The send queue, drained by writeLoop while wrunning. wended: the
	// stream is closed (after the last message once wclosing, or at a
	// write error) and wdone is closed.
	wmu      sync.Mutex
	wq       [][]byte
	wclosing bool
	wrunning bool
	wended   bool
	wdone    chan struct{}
	werr     chan error
	maxQueue int

	// mu guards everything below; run holds it while it works.
	mu                        sync.Mutex
	state                     ConnState
	winner                    *Conn // the connection that won a collision against this one
	peerVersion, peerFirmware uint16
	peerMaxChannels           uint16
	peerHost, peerVendor      string
	created, since, lastRx    time.Time
	setupDL, stopDL           time.Time
	echoID                    uint32
	echoSent                  time.Time        // zero: no Echo-Request outstanding
	calls                     map[uint16]*Call // by our call ID
	byPeer                    map[uint16]*Call // by the peer's call ID
	pending                   map[*Call]struct{}
	serial                    uint16
	closeErr                  error
	after                     []func()
	now                       time.Time
	overflow                  bool
	lostRace                  bool // SCCRP "exists" from a collision winner
	// silent: a connection the peer opened while ours to it won the
	// collision (§3.1.3). Nothing is sent on it and what arrives is
	// dropped; it ends when the peer closes it (or at setupDL).
	silent                         bool
	rxMsgs, txMsgs, echoTx, echoRx uint64
}

func newConn(n *Node, id uint64, s Stream, local, peer netip.Addr, originator bool) *Conn {
	return &Conn{n: n, id: id, s: s, local: local, peer: peer, originator: originator,
		in: make(chan inMsg), up: make(chan struct{}), done: make(chan struct{}),
		killc: make(chan struct{}), kick: make(chan struct{}, 1),
		wdone: make(chan struct{}), werr: make(chan error, 1),
		maxQueue: 2*n.cfg.MaxCallsPerConn + 64,
		calls:    map[uint16]*Call{}, byPeer: map[uint16]*Call{}, pending: map[*Call]struct{}{}}
}

// Peer returns the peer's address.
func (c *Conn) Peer() netip.Addr { return c.peer }

// Done is closed when the connection and its goroutines have ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the connection closed (a *CloseError), once Done is
// closed.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeErr
}

// Close stops the connection: when established, StopCCRQ with the given
// reason (§2.3) and, on the StopCCRP or StopTimeout, TCP close; before
// that, TCP close. Every call goes down with it.
func (c *Conn) Close(reason pptp.StopReason) {
	c.post(func() { c.stop(reason) })
}

// kill ends the connection at once, without any message.
func (c *Conn) kill() { c.killOnce.Do(func() { close(c.killc) }) }

// post runs f on the connection's goroutine, with mu held; false if the
// goroutine is gone.
func (c *Conn) post(f func()) bool {
	c.qmu.Lock()
	if c.finished {
		c.qmu.Unlock()
		return false
	}
	c.cmds = append(c.cmds, f)
	c.qmu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
	return true
}

// Stats returns the connection's snapshot for `show vpdn tunnel`.
func (c *Conn) Stats() ConnStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return ConnStats{ID: c.id, Local: c.local, Peer: c.peer, Role: c.n.cfg.Role, Originator: c.originator,
		State: c.state, PeerHostName: c.peerHost, PeerVendor: c.peerVendor, PeerVersion: c.peerVersion,
		PeerFirmware: c.peerFirmware, PeerMaxChannels: c.peerMaxChannels,
		Created: c.created, Since: c.since, LastRx: c.lastRx, Calls: len(c.calls),
		MsgsRx: c.rxMsgs, MsgsTx: c.txMsgs, EchoTx: c.echoTx, EchoRx: c.echoRx}
}

// Calls returns the snapshot of every live call, for `show vpdn session`.
func (c *Conn) Calls() []CallStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]CallStats, 0, len(c.calls))
	for _, call := range c.calls {
		out = append(out, call.statsLocked())
	}
	return out
}

// ConnStats is a control connection's snapshot.
type ConnStats struct {
	ID                        uint64 // node-unique, for show
	Local, Peer               netip.Addr
	Role                      Role
	Originator                bool // we sent the SCCRQ
	State                     ConnState
	PeerHostName, PeerVendor  string // as received: quote when printing
	PeerVersion, PeerFirmware uint16
	PeerMaxChannels           uint16
	Created, Since, LastRx    time.Time
	Calls                     int
	MsgsRx, MsgsTx            uint64
	EchoTx, EchoRx            uint64 // Echo-Requests sent, Echo-Replies matched
}

// eventf and errorf are `debug vpdn pptp-events` lines (the daemon's
// vpdn debug router selects them by their debug attribute); errorf's, a
// protocol error that drops a message or ends a connection, also pass
// `debug vpdn error`.
func (c *Conn) eventf(format string, args ...any) {
	if c.n.log == nil || !c.n.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	c.n.log.Debug(fmt.Sprintf("PPTP conn %d %v: ", c.id, c.peer)+fmt.Sprintf(format, args...), "debug", "pptp-events")
}

func (c *Conn) errorf(format string, args ...any) {
	if c.n.log == nil || !c.n.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	c.n.log.Debug(fmt.Sprintf("PPTP conn %d %v: ", c.id, c.peer)+fmt.Sprintf(format, args...), "debug", "pptp-events,error")
}

func (c *Conn) fire(ev ConnEvent) bool {
	to, ok := connNext(c.state, ev)
	if !ok {
		c.n.cnt.outOfState.Add(1)
		c.errorf("FSM-CC %v in %v: no transition", ev, c.state)
		return false
	}
	c.eventf("FSM-CC %v->%v on %v", c.state, to, ev)
	c.state, c.since = to, c.now
	return true
}

// send queues m for the writer. A message the codec refuses is a bug of
// the caller's parameters and is returned.
func (c *Conn) send(m pptp.Message) error {
	b, err := pptp.Append(nil, m)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	switch {
	case c.wclosing || c.wended:
	case len(c.wq) >= c.maxQueue:
		c.overflow = true
	default:
		c.wq = append(c.wq, b)
		c.txMsgs++
		c.startWriter()
	}
	c.wmu.Unlock()
	return nil
}

// startWriter starts the writer unless it runs or the stream has ended;
// wmu is held. Only run's goroutine queues messages, and it holds one of
// the node's WaitGroup counts while it does, so the Add is never a
// Wait's race.
func (c *Conn) startWriter() {
	if c.wrunning || c.wended {
		return
	}
	c.wrunning = true
	c.n.wg.Add(1)
	go c.writeLoop()
}

func (c *Conn) readLoop() {
	defer c.n.wg.Done()
	var buf [pptp.MaxMessageLen]byte
	n := 0
	for {
		k, rerr := c.s.Read(buf[n:])
		n += k
		for {
			msg, rest, err := pptp.Split(buf[:n])
			if err != nil {
				c.deliver(inMsg{err: err})
				return
			}
			if msg == nil {
				break
			}
			m, err := pptp.Parse(msg)
			if !c.deliver(inMsg{m: m, err: err}) {
				return
			}
			if err != nil && !errors.Is(err, pptp.ErrControlType) {
				return
			}
			n = copy(buf[:], rest)
		}
		if rerr != nil {
			if n > 0 && errors.Is(rerr, io.EOF) {
				rerr = fmt.Errorf("pptp: stream ended inside a message (%d octets): %w", n, io.ErrUnexpectedEOF)
			}
			c.deliver(inMsg{err: rerr})
			return
		}
	}
}

func (c *Conn) deliver(m inMsg) bool {
	select {
	case c.in <- m:
		return true
	case <-c.done:
		return false
	}
}

func (c *Conn) writeLoop() {
	defer c.n.wg.Done()
	for {
		c.wmu.Lock()
		q := c.wq
		c.wq = nil
		if len(q) == 0 {
			c.wrunning = false
			if !c.wclosing {
				c.wmu.Unlock()
				return
			}
			c.wended = true
			c.wmu.Unlock()
			_ = c.s.Close()
			close(c.wdone)
			return
		}
		c.wmu.Unlock()
		for _, b := range q {
			if _, err := c.s.Write(b); err != nil {
				select {
				case c.werr <- err:
				default:
				}
				_ = c.s.Close()
				c.wmu.Lock()
				c.wq, c.wrunning, c.wended = nil, false, true
				c.wmu.Unlock()
				close(c.wdone)
				return
			}
		}
	}
}

func (c *Conn) run() {
	defer c.n.wg.Done()
	clk := c.n.cfg.Clock
	// One pending AfterFunc rings wake at the earliest deadline. A stale
	// ring only makes the loop look at its deadlines early: onTimer acts
	// on nothing that is not due at the clock's Now.
	wake := make(chan struct{}, 1)
	ring := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	var timer clock.Timer
	var armed time.Time
	c.mu.Lock()
	c.now = clk.Now()
	c.created, c.since, c.lastRx = c.now, c.now, c.now
	c.setupDL = c.now.Add(c.n.cfg.SetupTimeout)
	c.eventf("created, %s, local %v", map[bool]string{true: "originator", false: "receiver"}[c.originator], c.local)
	if c.originator {
		cfg := &c.n.cfg
		maxCh := uint16(0) // §2.1: a PNS sends 0
		if cfg.Role == RolePAC {
			maxCh = uint16(cfg.MaxCallsPerConn)
		}
		if err := c.send(&pptp.SCCRQ{ProtocolVersion: pptp.ProtocolVersion, FramingCaps: cfg.FramingCaps,
			BearerCaps: cfg.BearerCaps, MaxChannels: maxCh, FirmwareRevision: cfg.FirmwareRevision,
			HostName: cfg.HostName, VendorName: cfg.VendorName}); err != nil {
			c.teardown(CevBroken, &CloseError{Err: err})
		} else {
			c.fire(CevOpen)
		}
	}
	for {
		for len(c.after) > 0 {
			after := c.after
			c.after = nil
			c.mu.Unlock()
			for _, f := range after {
				f()
			}
			c.mu.Lock()
		}
		if c.overflow && c.state != ConnDead {
			c.n.cnt.sendOverflow.Add(1)
			c.teardown(CevBroken, &CloseError{Err: fmt.Errorf("%w: the peer does not read", ErrBroken)})
			continue
		}
		if c.state == ConnDead {
			break
		}
		if dl := c.nextDeadline(); !dl.Equal(armed) {
			if timer != nil {
				timer.Stop()
				timer = nil
			}
			armed = dl
			if !dl.IsZero() {
				timer = clk.AfterFunc(max(0, dl.Sub(c.now)), ring)
			}
		}
		c.mu.Unlock()
		select {
		case m := <-c.in:
			c.mu.Lock()
			c.now = clk.Now()
			c.handle(m)
		case <-c.kick:
			c.qmu.Lock()
			cmds := c.cmds
			c.cmds = nil
			c.qmu.Unlock()
			c.mu.Lock()
			c.now = clk.Now()
			for _, f := range cmds {
				f()
			}
		case <-wake:
			c.mu.Lock()
			c.now = clk.Now()
			c.onTimer()
		case err := <-c.werr:
			c.mu.Lock()
			c.now = clk.Now()
			c.teardown(CevBroken, &CloseError{Err: fmt.Errorf("%w: %v", ErrBroken, err)})
		case <-c.killc:
			c.mu.Lock()
			c.now = clk.Now()
			c.teardown(CevBroken, &CloseError{Err: ErrClosed})
		}
	}
	c.mu.Unlock()
	if timer != nil {
		timer.Stop()
	}
	c.qmu.Lock()
	c.finished = true
	c.cmds = nil
	c.qmu.Unlock()
	// Let the writer flush (a StopCCRP, a last CDN) and close the stream;
	// a peer that does not read gets StopTimeout.
	c.wmu.Lock()
	c.wclosing = true
	c.startWriter()
	c.wmu.Unlock()
	linger := clk.AfterFunc(c.n.cfg.StopTimeout, func() { _ = c.s.Close() })
	select {
	case <-c.wdone:
	case <-c.killc:
		_ = c.s.Close()
		<-c.wdone
	}
	linger.Stop()
	c.n.remove(c)
	close(c.done)
}

func (c *Conn) nextDeadline() time.Time {
	var dl time.Time
	earlier := func(t time.Time) {
		if !t.IsZero() && (dl.IsZero() || t.Before(dl)) {
			dl = t
		}
	}
	switch c.state {
	case ConnIdle, ConnWaitCtlReply:
		earlier(c.setupDL)
	case ConnWaitStopReply:
		earlier(c.stopDL)
	case ConnEstablished:
		if iv := c.n.cfg.EchoInterval; iv > 0 {
			if c.echoSent.IsZero() {
				earlier(c.lastRx.Add(iv))
			} else {
				earlier(c.echoSent.Add(c.n.cfg.EchoTimeout))
			}
		}
	}
	for call := range c.pending {
		earlier(call.deadline)
	}
	return dl
}

func (c *Conn) onTimer() {
	cnt := &c.n.cnt
	switch c.state {
	case ConnIdle, ConnWaitCtlReply:
		if !c.now.Before(c.setupDL) {
			cnt.setupTimeouts.Add(1)
			c.teardown(CevTimeout, &CloseError{Err: ErrSetupTimeout})
			return
		}
	case ConnWaitStopReply:
		if !c.now.Before(c.stopDL) {
			cnt.stopTimeouts.Add(1)
			c.errorf("no StopCCRP")
			c.teardown(CevTimeout, &CloseError{Err: ErrStopTimeout})
			return
		}
	case ConnEstablished:
		if c.n.cfg.EchoInterval > 0 {
			if !c.echoSent.IsZero() && !c.now.Before(c.echoSent.Add(c.n.cfg.EchoTimeout)) {
				// §2.5: the Echo-Request is the keep-alive; no reply
				// means the peer is gone, and nothing can be stopped.
				cnt.echoTimeouts.Add(1)
				c.errorf("no Echo-Reply to %d", c.echoID)
				c.teardown(CevTimeout, &CloseError{Err: ErrEchoTimeout})
				return
			}
			if c.echoSent.IsZero() && !c.now.Before(c.lastRx.Add(c.n.cfg.EchoInterval)) {
				c.echoID++
				c.echoSent = c.now
				c.echoTx++
				_ = c.send(&pptp.EchoRequest{ID: c.echoID})
			}
		}
	}
	for call := range c.pending {
		if !call.deadline.IsZero() && !c.now.Before(call.deadline) {
			cnt.callTimeouts.Add(1)
			c.callTimeout(call)
		}
	}
}

// teardown moves the connection by ev; once dead, every call goes down
// with err and the goroutine ends.
func (c *Conn) teardown(ev ConnEvent, err error) {
	if c.state == ConnDead {
		return
	}
	if c.closeErr == nil {
		c.closeErr = err
	}
	if !c.fire(ev) {
		c.state = ConnDead
	}
	c.dropCalls()
	if c.state == ConnDead {
		c.n.notDialing(c)
		c.eventf("closed: %v", c.closeErr)
	}
}

// stop is the local close request.
func (c *Conn) stop(reason pptp.StopReason) {
	switch c.state {
	case ConnEstablished:
		// §3.1.1/§3.1.2: StopCCRQ -> wait_stop_reply; the calls go now.
		_ = c.send(&pptp.StopCCRQ{Reason: reason})
		c.stopDL = c.now.Add(c.n.cfg.StopTimeout)
		c.teardown(CevClose, &CloseError{Msg: pptp.MsgStopCCRQ, Result: uint8(reason)})
	case ConnDead, ConnWaitStopReply:
	default:
		c.teardown(CevClose, &CloseError{Err: ErrClosed})
	}
}

func (c *Conn) established() {
	c.n.notHalfOpen(c)
	c.echoSent = time.Time{}
	close(c.up)
	c.eventf("established, peer %q version %#04x", c.peerHost, c.peerVersion)
}

func (c *Conn) handle(in inMsg) {
	cnt := &c.n.cnt
	if in.err != nil {
		err := in.err
		if c.lostRace && c.state == ConnWaitCtlReply {
			return
		}
		switch {
		case errors.Is(err, pptp.ErrControlType):
			cnt.unknownType.Add(1)
			c.errorf("skipped: %v", err)
			return
		case errors.Is(err, pptp.ErrMagicCookie):
			cnt.badCookie.Add(1)
		case errors.Is(err, pptp.ErrLength), errors.Is(err, pptp.ErrShort):
			cnt.badLength.Add(1)
		case errors.Is(err, pptp.ErrMessageType):
			cnt.badMsgType.Add(1)
		case errors.Is(err, io.ErrUnexpectedEOF):
			cnt.truncated.Add(1)
		}
		c.errorf("stream: %v", err)
		// A lost framing leaves no way to send StopCCRQ: close TCP.
		c.teardown(CevBroken, &CloseError{Err: fmt.Errorf("%w: %v", ErrBroken, err)})
		return
	}
	if c.silent {
		return
	}
	c.lastRx = c.now
	c.rxMsgs++
	switch m := in.m.(type) {
	case *pptp.SCCRQ:
		c.rxSCCRQ(m)
	case *pptp.SCCRP:
		c.rxSCCRP(m)
	case *pptp.StopCCRQ:
		c.rxStopCCRQ(m)
	case *pptp.StopCCRP:
		if c.state != ConnWaitStopReply {
			cnt.outOfState.Add(1)
			return
		}
		c.teardown(CevRxStopCCRP, nil)
	case *pptp.EchoRequest:
		// §2.5: answered whatever else is going on.
		_ = c.send(&pptp.EchoReply{ID: m.ID, Result: pptp.EchoOK})
	case *pptp.EchoReply:
		if c.echoSent.IsZero() || m.ID != c.echoID {
			cnt.outOfState.Add(1)
			return
		}
		c.echoSent = time.Time{}
		c.echoRx++
	default:
		if c.state != ConnEstablished {
			// §2.16 error 1: no control connection exists yet. A
			// request gets a reply saying so; anything else is dropped.
			cnt.outOfState.Add(1)
			c.errorf("%v before the control connection is established", in.m.Type())
			switch m := in.m.(type) {
			case *pptp.OCRQ:
				_ = c.send(&pptp.OCRP{PeerCallID: m.CallID, Result: pptp.OCRPGeneralError, Error: pptp.ErrorNotConnected})
			case *pptp.ICRQ:
				_ = c.send(&pptp.ICRP{PeerCallID: m.CallID, Result: pptp.ICRPGeneralError, Error: pptp.ErrorNotConnected})
			}
			return
		}
		c.callMsg(in.m)
	}
}

func (c *Conn) rxSCCRQ(m *pptp.SCCRQ) {
	cnt := &c.n.cnt
	if c.state != ConnIdle {
		cnt.outOfState.Add(1)
		c.errorf("SCCRQ in %v", c.state)
		return
	}
	c.peerVersion, c.peerFirmware, c.peerMaxChannels = m.ProtocolVersion, m.FirmwareRevision, m.MaxChannels
	c.peerHost, c.peerVendor = m.HostName, m.VendorName
	reply := c.sccrp()
	switch {
	case m.ProtocolVersion < pptp.ProtocolVersion:
		// §3.1.2: an earlier version we cannot support gets SCCRP with
		// result 5 and TCP close; a later one gets our version.
		cnt.badVersion.Add(1)
		reply.Result = pptp.SCCRPBadVersion
	case c.n.collision(c):
		// §3.1.3: our own SCCRQ to this peer wins. The winner MUST NOT
		// send anything on the connection the loser opened: the loser
		// closes it and answers our SCCRQ on ours. Drop this one
		// silently.
		c.eventf("SCCRQ collision won: the peer's connection is left to it to close")
		c.silent = true
		c.setupDL = c.now.Add(c.n.cfg.SetupTimeout)
		c.closeErr = &CloseError{Err: ErrCollisionWon}
		return
	}
	_ = c.send(reply)
	if reply.Result != pptp.SCCRPSuccess {
		c.teardown(CevSCCRQBad, &CloseError{Msg: pptp.MsgSCCRP, Result: uint8(reply.Result)})
		return
	}
	c.fire(CevSCCRQOK)
	c.established()
}

func (c *Conn) sccrp() *pptp.SCCRP {
	cfg := &c.n.cfg
	maxCh := uint16(0)
	if cfg.Role == RolePAC {
		maxCh = uint16(cfg.MaxCallsPerConn)
	}
	return &pptp.SCCRP{ProtocolVersion: pptp.ProtocolVersion, Result: pptp.SCCRPSuccess,
		FramingCaps: cfg.FramingCaps, BearerCaps: cfg.BearerCaps, MaxChannels: maxCh,
		FirmwareRevision: cfg.FirmwareRevision, HostName: cfg.HostName, VendorName: cfg.VendorName}
}

func (c *Conn) rxSCCRP(m *pptp.SCCRP) {
	if c.state != ConnWaitCtlReply {
		c.n.cnt.outOfState.Add(1)
		c.errorf("SCCRP in %v", c.state)
		return
	}
	if m.Result == pptp.SCCRPExists && c.local.Compare(c.peer) < 0 {
		// §3.1.3 collision, lost, with a winner that refuses (result 3)
		// instead of staying silent: the refusal came before its
		// own SCCRQ on the connection it opened. Stay registered until
		// that SCCRQ hands Dial the peer's connection (collision), or
		// SetupTimeout; the end of this stream is expected.
		c.lostRace = true
		c.eventf("SCCRQ refused by the collision winner, waiting for its connection")
		return
	}
	c.n.notDialing(c)
	c.peerVersion, c.peerFirmware, c.peerMaxChannels = m.ProtocolVersion, m.FirmwareRevision, m.MaxChannels
	c.peerHost, c.peerVendor = m.HostName, m.VendorName
	if m.Result != pptp.SCCRPSuccess {
		c.teardown(CevSCCRPBad, &CloseError{Msg: pptp.MsgSCCRP, Result: uint8(m.Result), Code: m.Error, Remote: true})
		return
	}
	if m.ProtocolVersion < pptp.ProtocolVersion {
		// §3.1.1: an earlier version we do not support -> StopCCRQ
		// (reason 2, §2.3) and clean up.
		c.n.cnt.badVersion.Add(1)
		_ = c.send(&pptp.StopCCRQ{Reason: pptp.StopProtocol})
		c.stopDL = c.now.Add(c.n.cfg.StopTimeout)
		c.teardown(CevSCCRPVersion, &CloseError{Msg: pptp.MsgStopCCRQ, Result: uint8(pptp.StopProtocol)})
		return
	}
	c.fire(CevSCCRPOK)
	c.established()
}

func (c *Conn) rxStopCCRQ(m *pptp.StopCCRQ) {
	switch c.state {
	case ConnEstablished, ConnWaitStopReply:
		// §2.4: StopCCRP, then the TCP connection is closed; every call
		// is gone (§2.3).
		_ = c.send(&pptp.StopCCRP{Result: pptp.StopOK})
		c.teardown(CevRxStopCCRQ, &CloseError{Msg: pptp.MsgStopCCRQ, Result: uint8(m.Reason), Remote: true})
	default:
		c.n.cnt.outOfState.Add(1)
		c.errorf("StopCCRQ in %v", c.state)
	}
}

// dropCalls ends every call with the connection's error.
func (c *Conn) dropCalls() {
	for _, call := range c.calls {
		call.fire(SevConnDown)
		c.callDown(call, c.closeErr)
	}
}

// Call places a call on an established connection: OCRQ when we are the
// PNS (§3.2.3.2), ICRQ then ICCN when we are the PAC (§3.2.2.1). It
// returns the established call, or a *CloseError with the peer's refusal,
// ErrLimit, or ctx's error.
func (c *Conn) Call(ctx context.Context, p CallParams) (*Call, error) {
	call := &Call{c: c, outgoing: c.n.cfg.Role == RolePNS, originated: true,
		up: make(chan struct{}), done: make(chan struct{})}
	if !c.post(func() { c.openCall(call, p) }) {
		return nil, &CloseError{Err: ErrClosed}
	}
	select {
	case <-call.up:
		return call, nil
	case <-call.done:
		c.mu.Lock()
		defer c.mu.Unlock()
		return nil, call.err
	case <-ctx.Done():
		call.Close(pptp.CDNAdminShutdown)
		return nil, ctx.Err()
	}
}

func (c *Conn) openCall(call *Call, p CallParams) {
	fail := func(err error) {
		call.err = err
		call.state = CallDead
		close(call.done)
	}
	if c.state != ConnEstablished {
		fail(&CloseError{Err: errConnDown})
		return
	}
	if len(c.calls) >= c.n.cfg.MaxCallsPerConn {
		c.n.cnt.callLimit.Add(1)
		fail(ErrLimit)
		return
	}
	id := c.n.allocCallID(call)
	if id == 0 {
		c.n.cnt.callLimit.Add(1)
		fail(ErrLimit)
		return
	}
	call.localID, call.params = id, p
	call.created, call.since = c.now, c.now
	c.serial++
	cfg := &c.n.cfg
	var m pptp.Message
	if call.outgoing {
		if p.MaxBPS == 0 {
			p.MinBPS, p.MaxBPS = 300, 100_000_000
		}
		if p.BearerType == 0 {
			p.BearerType = cfg.BearerCaps
		}
		if p.FramingType == 0 {
			p.FramingType = cfg.FramingCaps
		}
		m = &pptp.OCRQ{CallID: id, CallSerial: c.serial, MinBPS: p.MinBPS, MaxBPS: p.MaxBPS,
			BearerType: p.BearerType, FramingType: p.FramingType, RecvWindow: cfg.RecvWindow,
			ProcessingDelay: cfg.ProcessingDelay, PhoneNumber: p.PhoneNumber, SubAddress: p.SubAddress}
	} else {
		if p.BearerType == 0 {
			p.BearerType = pptp.BearerAnalog
		}
		m = &pptp.ICRQ{CallID: id, CallSerial: c.serial, BearerType: p.BearerType,
			PhysicalChannelID: p.PhysicalChannelID, DialedNumber: p.DialedNumber,
			DialingNumber: p.DialingNumber, SubAddress: p.SubAddress}
	}
	ready := p.Ready
	p.Ready = nil
	call.params = p
	if ready != nil {
		ready(id)
	}
	if err := c.send(m); err != nil {
		c.n.freeCallID(id)
		fail(fmt.Errorf("pptp: call parameters: %w", err))
		return
	}
	call.serial = c.serial
	c.calls[id] = call
	call.fire(SevOpen)
	c.setPending(call, c.now.Add(cfg.CallTimeout))
}

func (c *Conn) setPending(call *Call, dl time.Time) {
	call.deadline = dl
	if dl.IsZero() {
		delete(c.pending, call)
	} else {
		c.pending[call] = struct{}{}
	}
}

// callUp reports an established call.
func (c *Conn) callUp(call *Call) {
	c.setPending(call, time.Time{})
	call.wasUp = true
	close(call.up)
	c.eventf("call %d/%d established", call.localID, call.peerID)
	if !call.originated && c.n.cfg.OnCallUp != nil {
		f := c.n.cfg.OnCallUp
		c.after = append(c.after, func() { f(call) })
	}
}

// callDown removes a call; err is its CloseError unless one is set.
func (c *Conn) callDown(call *Call, err error) {
	if _, ok := c.calls[call.localID]; !ok || call.gone {
		return
	}
	call.gone = true
	if call.err == nil {
		call.err = err
	}
	delete(c.calls, call.localID)
	if c.byPeer[call.peerID] == call {
		delete(c.byPeer, call.peerID)
	}
	delete(c.pending, call)
	c.n.freeCallID(call.localID)
	close(call.done)
	c.eventf("call %d/%d down: %v", call.localID, call.peerID, call.err)
	if (call.offered || call.wasUp) && c.n.cfg.OnCallDown != nil {
		f, e := c.n.cfg.OnCallDown, call.err
		c.after = append(c.after, func() { f(call, e) })
	}
}
