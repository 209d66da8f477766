package radius

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"

	"github.com/vpdn/vpdn/aaa"
)

// Acct-Status-Type values (RFC 2866 §5.1).
const (
	statusStart   = 1
	statusStop    = 2
	statusInterim = 3
	statusOn      = 7 // Accounting-On
	statusOff     = 8 // Accounting-Off
)

// Acct-Terminate-Cause NAS-Reboot (RFC 2866 §5.10): the Stop of a
// session that was up when the daemon died, as IOS sends it after a
// reload.
const causeNASReboot = 11

// AccountingConfig configures Accounting.
type AccountingConfig struct {
	Client *Client
	// Dir is the spool directory; it is made if missing.
	Dir    string
	Limits SpoolLimits
	// Workers is the number of records in flight at once (0: 16).
	Workers int
	// MaxBackoff bounds the wait of a worker after a record no server
	// acknowledged (0: 10 s); the wait starts at 1 s and doubles.
	MaxBackoff time.Duration
	Clock      Clock // nil: the real clock
	// Logger gets warnings; Debug one line per record (debug aaa
	// accounting). Either may be nil.
	Logger, Debug *slog.Logger
}

// Accounting sends accounting records (RFC 2866) through a durable spool:
// every record is on disk before it is sent and stays there until a
// server of its group acknowledges it; a record no server answers is
// retried, with backoff, its Acct-Delay-Time (and so its Identifier and
// Request Authenticator, RFC 2866 §5.2) renewed on each send. When it
// starts, it takes over the spool a previous run left: the records not
// acknowledged are sent, and each session that was still up gets its
// Stop, with the last counters spooled and Acct-Terminate-Cause
// NAS-Reboot.
type Accounting struct {
	c          *Client
	dir        spoolDir
	limits     SpoolLimits
	clock      Clock
	log, dbg   *slog.Logger
	maxBackoff time.Duration

	mu      sync.Mutex
	entries map[string]*spoolEntry // by Acct-Session-Id, under mu
	queue   []*spoolEntry          // entries with records to send, under mu
	bytes   int64                  // of every entry's file, under mu
	seq     uint64                 // under mu
	wake    chan struct{}          // a token when the queue grows
	// on is the Accounting-On not yet acknowledged, under mu: until it
	// is, the records of its group queued after it wait (RFC 2866 §5.1:
	// the server hears that the NAS started before it hears of the
	// sessions it serves; IOS's `aaa accounting system guarantee-first`).
	on *spoolEntry

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	st acctCounters
}

type acctCounters struct {
	queued, sent, acked       [9]atomic.Uint64 // by status type
	retries                   atomic.Uint64
	refusedFull               atomic.Uint64 // Starts refused: spool full
	interimsDropped           atomic.Uint64 // Interim-Updates dropped: superseded or spool full
	writeErrors, badFiles     atomic.Uint64
	recoveredStops, recovered atomic.Uint64
}

// AccountingStats are the counters of Accounting.
type AccountingStats struct {
	// Records is the number of sessions in the spool, Bytes their files'
	// size; Pending the sessions with a record not yet acknowledged.
	Records, Pending int
	Bytes            int64
	// Queued, Sent (every transmission) and Acked by Acct-Status-Type.
	QueuedStart, QueuedInterim, QueuedStop uint64
	SentStart, SentInterim, SentStop       uint64
	AckedStart, AckedInterim, AckedStop    uint64
	// Retries are sends of a record after no server acknowledged it.
	Retries uint64
	// RefusedFull are Starts refused because the spool was full;
	// InterimsDropped Interim-Updates dropped because a newer one (or
	// the Stop) superseded them before they were sent, or the spool was
	// full.
	RefusedFull, InterimsDropped uint64
	// WriteErrors are spool writes that failed; BadFiles spool files
	// that did not decode at start (renamed *.bad).
	WriteErrors, BadFiles uint64
	// Recovered is the number of sessions found in the spool at start;
	// RecoveredStops the Stops made for those that were still up.
	Recovered, RecoveredStops uint64
	// Accounting-On and -Off records (system accounting) by stage.
	QueuedOn, SentOn, AckedOn    uint64
	QueuedOff, SentOff, AckedOff uint64
}

// NewAccounting opens the spool, takes over what it holds and starts
// sending.
func NewAccounting(cfg AccountingConfig) (*Accounting, error) {
	if cfg.Client == nil || cfg.Dir == "" {
		return nil, errors.New("radius: accounting needs a client and a spool directory")
	}
	a := &Accounting{c: cfg.Client, dir: spoolDir{dir: cfg.Dir}, limits: cfg.Limits, clock: cfg.Clock, log: cfg.Logger, dbg: cfg.Debug,
		maxBackoff: cfg.MaxBackoff, entries: map[string]*spoolEntry{}, wake: make(chan struct{}, 1)}
	if a.clock == nil {
		a.clock = realClock{}
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.dbg == nil {
		a.dbg = slog.New(slog.DiscardHandler)
	}
	if a.limits.Records <= 0 {
		a.limits.Records = 100000
	}
	if a.limits.Bytes <= 0 {
		a.limits.Bytes = 64 << 20
	}
	if a.maxBackoff <= 0 {
		a.maxBackoff = 10 * time.Second
	}
	loaded, bad, err := a.dir.load()
	if err != nil {
		return nil, err
	}
	a.st.badFiles.Add(uint64(bad))
	if bad > 0 {
		a.log.Warn("radius: accounting spool files that do not decode were set aside (*.bad)", "dir", cfg.Dir, "files", bad)
	}
	slices.SortFunc(loaded, func(x, y *spoolEntry) int { return cmp.Compare(x.Seq, y.Seq) })
	now := a.clock.Now()
	for _, e := range loaded {
		a.st.recovered.Add(1)
		if e.Seq > a.seq {
			a.seq = e.Seq
		}
		if e.Flags&flagSystem != 0 && e.Flags&flagAll == 0 {
			// A system record acknowledged as the daemon died.
			if err := a.dir.remove(e.ID); err != nil {
				return nil, err
			}
			continue
		}
		if e.Flags&(flagStop|flagSystem) == 0 {
			// Up when the daemon died: its Stop, with the counters of its
			// last Interim-Update (none: zero), NAS-Reboot.
			e.Stop = recoveredStop(e.Interim)
			e.StopAt = now.UnixNano()
			e.Flags = e.Flags&^flagInterim | flagStop
			if err := a.writeEntry(e); err != nil {
				return nil, err
			}
			a.st.recoveredStops.Add(1)
			a.st.queued[statusStop].Add(1)
		}
		a.entries[e.ID] = e
		a.bytes += int64(e.size)
		a.enqueueLocked(e)
	}
	if len(loaded) > 0 {
		a.log.Info("radius: accounting spool taken over", "dir", cfg.Dir, "sessions", len(loaded), "stops made", a.st.recoveredStops.Load())
	}
	workers := cfg.Workers
	if workers <= 0 {
		workers = 16
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	for range workers {
		a.wg.Go(a.worker)
	}
	return a, nil
}

// recoveredStop makes the Stop attributes from an Interim-Update's: its
// counters and session time, and Acct-Terminate-Cause NAS-Reboot.
func recoveredStop(interim []byte) []byte {
	out := append([]byte(nil), interim...)
	return appendAttr(out, rfc2866.AcctTerminateCause_Type, radius.NewInteger(causeNASReboot))
}

func appendAttr(b []byte, t radius.Type, v radius.Attribute) []byte {
	if len(v) > 253 {
		v = v[:253]
	}
	b = append(b, byte(t), byte(len(v)+2))
	return append(b, v...)
}

// ipv6PrefixValue is the value of Framed-IPv6-Prefix and
// Delegated-IPv6-Prefix (RFC 3162 §2.3, RFC 4818 §3): Reserved, Prefix-Length,
// and the prefix's significant octets.
func ipv6PrefixValue(p netip.Prefix) radius.Attribute {
	a := p.Masked().Addr().As16()
	return append([]byte{0, byte(p.Bits())}, a[:(p.Bits()+7)/8]...)
}

func appendString(b []byte, t radius.Type, s string) []byte {
	if s == "" {
		return b
	}
	return appendAttr(b, t, radius.Attribute(s))
}

// baseAttributes are the attributes of every record of a session.
func baseAttributes(r *aaa.AccountingRecord) []byte {
	var b []byte
	b = appendString(b, rfc2865.UserName_Type, r.Username)
	b = appendString(b, rfc2866.AcctSessionID_Type, r.SessionID)
	b = appendAttr(b, rfc2865.NASPort_Type, radius.NewInteger(r.PortNumber))
	pt := r.PortType
	if pt == 0 {
		pt = nasPortTypeVirtual
	}
	b = appendAttr(b, rfc2865.NASPortType_Type, radius.NewInteger(pt))
	b = appendString(b, rfc2869.NASPortID_Type, r.NASPort)
	b = appendAttr(b, rfc2865.ServiceType_Type, radius.NewInteger(serviceTypeFramed))
	b = appendAttr(b, rfc2865.FramedProtocol_Type, radius.NewInteger(framedProtocolPPP))
	b = appendString(b, rfc2865.CallingStationID_Type, r.CallingNumber)
	b = appendString(b, rfc2865.CalledStationID_Type, r.CalledNumber)
	if r.FramedAddress.Is4() {
		ip := r.FramedAddress.As4()
		b = appendAttr(b, rfc2865.FramedIPAddress_Type, ip[:])
	}
	for _, p := range r.IPv6Prefixes {
		b = appendAttr(b, attrFramedIPv6Prefix, ipv6PrefixValue(p))
	}
	for _, p := range r.DelegatedPrefixes {
		b = appendAttr(b, attrDelegatedIPv6Prefix, ipv6PrefixValue(p))
	}
	if r.Authentic != 0 {
		b = appendAttr(b, rfc2866.AcctAuthentic_Type, radius.NewInteger(r.Authentic))
	}
	for _, c := range r.Class {
		b = appendAttr(b, rfc2865.Class_Type, c)
	}
	return b
}

// counterAttributes are an Interim's or Stop's (RFC 2866 §5.3, §5.4,
// §5.7, §5.8, §5.10; RFC 2869 §5.1, §5.2 for the Gigawords).
func counterAttributes(r *aaa.AccountingRecord, stop bool) []byte {
	var b []byte
	b = appendAttr(b, rfc2866.AcctSessionTime_Type, radius.NewInteger(r.SessionSeconds))
	b = appendAttr(b, rfc2866.AcctInputOctets_Type, radius.NewInteger(uint32(r.InOctets)))
	b = appendAttr(b, rfc2866.AcctOutputOctets_Type, radius.NewInteger(uint32(r.OutOctets)))
	b = appendAttr(b, rfc2869.AcctInputGigawords_Type, radius.NewInteger(uint32(r.InOctets>>32)))
	b = appendAttr(b, rfc2869.AcctOutputGigawords_Type, radius.NewInteger(uint32(r.OutOctets>>32)))
	b = appendAttr(b, rfc2866.AcctInputPackets_Type, radius.NewInteger(uint32(r.InPackets)))
	b = appendAttr(b, rfc2866.AcctOutputPackets_Type, radius.NewInteger(uint32(r.OutPackets)))
	if stop && r.TerminateCode != 0 {
		b = appendAttr(b, rfc2866.AcctTerminateCause_Type, radius.NewInteger(r.TerminateCode))
	}
	return b
}

// List returns the aaa.Accounter of a method list sending to group:
// start-stop, or stop-only (only the Stop is sent; the session is spooled
// all the same, for the Stop after a crash).
func (a *Accounting) List(group string, stopOnly bool) aaa.Accounter {
	return &acctList{a: a, group: group, stopOnly: stopOnly}
}

type acctList struct {
	a        *Accounting
	group    string
	stopOnly bool
}

func eventTime(r *aaa.AccountingRecord, now time.Time) int64 {
	if r.Time.IsZero() {
		return now.UnixNano()
	}
	return r.Time.UnixNano()
}

func (l *acctList) Start(_ context.Context, r *aaa.AccountingRecord) error {
	a := l.a
	e := &spoolEntry{ID: r.SessionID, Group: l.group, Base: baseAttributes(r), StartAt: eventTime(r, a.clock.Now())}
	if !l.stopOnly {
		e.Flags = flagStart
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if e.ID == "" {
		return errors.New("radius: accounting: a record without Acct-Session-Id")
	}
	if _, dup := a.entries[e.ID]; dup {
		return fmt.Errorf("radius: accounting: session %s started twice", e.ID)
	}
	if len(a.entries) >= a.limits.Records || a.bytes >= a.limits.Bytes {
		a.st.refusedFull.Add(1)
		return fmt.Errorf("radius: accounting spool full (%d sessions, %d octets): session %s not accounted", len(a.entries), a.bytes, e.ID)
	}
	a.seq++
	e.Seq = a.seq
	if err := a.writeEntry(e); err != nil {
		return err
	}
	a.entries[e.ID] = e
	a.bytes += int64(e.size)
	if !l.stopOnly {
		a.st.queued[statusStart].Add(1)
		a.dbg.Debug("AAA/ACCT: start queued", "session", e.ID, "group", e.Group)
		a.enqueueLocked(e)
	}
	return nil
}

func (l *acctList) Interim(_ context.Context, r *aaa.AccountingRecord) error {
	a := l.a
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.entries[r.SessionID]
	if e == nil || e.Flags&flagStop != 0 {
		return fmt.Errorf("radius: accounting: interim of session %s, which is not open", r.SessionID)
	}
	if a.bytes >= a.limits.Bytes && e.Interim == nil {
		a.st.interimsDropped.Add(1)
		return nil
	}
	if e.Flags&flagInterim != 0 {
		a.st.interimsDropped.Add(1) // superseded before it was sent
	}
	old := *e
	e.Interim, e.InterimAt = counterAttributes(r, false), eventTime(r, a.clock.Now())
	if !l.stopOnly {
		e.Flags |= flagInterim
	}
	if err := a.rewriteLocked(e, &old); err != nil {
		return err
	}
	if !l.stopOnly {
		a.st.queued[statusInterim].Add(1)
		a.dbg.Debug("AAA/ACCT: interim queued", "session", e.ID)
		a.enqueueLocked(e)
	}
	return nil
}

func (l *acctList) Stop(_ context.Context, r *aaa.AccountingRecord) error {
	a := l.a
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.entries[r.SessionID]
	if e == nil || e.Flags&flagStop != 0 {
		return fmt.Errorf("radius: accounting: stop of session %s, which is not open", r.SessionID)
	}
	if e.Flags&flagInterim != 0 {
		a.st.interimsDropped.Add(1) // the Stop carries newer counters
	}
	old := *e
	e.Stop, e.StopAt = counterAttributes(r, true), eventTime(r, a.clock.Now())
	e.Flags = e.Flags&^flagInterim | flagStop
	if err := a.rewriteLocked(e, &old); err != nil {
		return err
	}
	a.st.queued[statusStop].Add(1)
	a.dbg.Debug("AAA/ACCT: stop queued", "session", e.ID, "cause", r.TerminateCause)
	a.enqueueLocked(e)
	return nil
}

// writeEntry encodes e and writes its file, noting its size.
func (a *Accounting) writeEntry(e *spoolEntry) error {
	b, err := e.encode()
	if err == nil {
		err = a.dir.write(e.ID, b)
	}
	if err != nil {
		a.st.writeErrors.Add(1)
		return err
	}
	e.size = len(b)
	return nil
}

// rewriteLocked writes e's new state, restoring old's on failure.
func (a *Accounting) rewriteLocked(e, old *spoolEntry) error {
	before := e.size
	if err := a.writeEntry(e); err != nil {
		e.Flags, e.Interim, e.InterimAt, e.Stop, e.StopAt = old.Flags, old.Interim, old.InterimAt, old.Stop, old.StopAt
		return err
	}
	a.bytes += int64(e.size - before)
	return nil
}

func (a *Accounting) enqueueLocked(e *spoolEntry) {
	if e.queued || e.busy || e.Flags == 0 {
		return
	}
	e.queued = true
	a.queue = append(a.queue, e)
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// next takes the first entry of the queue, waiting for one.
func (a *Accounting) next() *spoolEntry {
	for {
		a.mu.Lock()
		if i := a.firstReadyLocked(); i >= 0 {
			e := a.queue[i]
			if i == 0 {
				a.queue[0] = nil
				a.queue = a.queue[1:] // the usual case, in constant time
			} else {
				a.queue = slices.Delete(a.queue, i, i+1)
			}
			e.queued, e.busy = false, true
			more := len(a.queue) > 0
			a.mu.Unlock()
			if more {
				select { // pass the token on to another worker
				case a.wake <- struct{}{}:
				default:
				}
			}
			return e
		}
		a.mu.Unlock()
		select {
		case <-a.wake:
		case <-a.ctx.Done():
			return nil
		}
	}
}

// firstReadyLocked returns the index in the queue of the first entry that
// may be sent now, -1 if none: while an Accounting-On is not
// acknowledged, the entries of its group spooled after it wait.
func (a *Accounting) firstReadyLocked() int {
	for i, e := range a.queue {
		if on := a.on; on == nil || e == on || e.Group != on.Group || e.Seq < on.Seq {
			return i
		}
	}
	return -1
}

// System spools a system accounting record (RFC 2866 §5.1) to group: an
// Accounting-On (on) when the NAS starts serving, before any Start, or an
// Accounting-Off when it stops, after the Stops. Each has its own
// Acct-Session-Id (RFC 2866 §5.5: present in every Accounting-Request),
// 24 hex digits like the sessions': the time and a random part. Until an
// Accounting-On is acknowledged, the records of its group spooled after
// it wait.
func (a *Accounting) System(group string, on bool) error {
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return fmt.Errorf("radius: accounting: %w", err)
	}
	now := a.clock.Now()
	id := fmt.Sprintf("%08X%X", uint32(now.Unix()), rnd)
	e := &spoolEntry{ID: id, Group: group, Base: appendString(nil, rfc2866.AcctSessionID_Type, id), StartAt: now.UnixNano(), Flags: flagSystem}
	status := uint32(statusOn)
	if on {
		e.Flags |= flagStart
	} else {
		e.Flags |= flagStop
		e.Stop, e.StopAt, status = []byte{}, now.UnixNano(), statusOff
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seq++
	e.Seq = a.seq
	if err := a.writeEntry(e); err != nil {
		return err
	}
	a.entries[e.ID] = e
	a.bytes += int64(e.size)
	if on {
		a.on = e
	}
	a.st.queued[status].Add(1)
	a.dbg.Debug("AAA/ACCT: "+statusName(status)+" queued", "session", e.ID, "group", group)
	a.enqueueLocked(e)
	return nil
}

// worker sends records: one session at a time, its Start, Interim and
// Stop in that order (a record waits for the one before it to be
// acknowledged). After a send no server acknowledged, the session goes
// back to the end of the queue and the worker waits, 1 s doubling to
// MaxBackoff, so that an outage costs no busy loop.
func (a *Accounting) worker() {
	backoff := time.Duration(0)
	for {
		e := a.next()
		if e == nil {
			return
		}
		ok := a.sendNext(e)
		a.mu.Lock()
		e.busy = false
		a.enqueueLocked(e)
		a.mu.Unlock()
		if ok {
			backoff = 0
			continue
		}
		backoff = min(max(2*backoff, time.Second), a.maxBackoff)
		t := a.clock.NewTimer(backoff)
		select {
		case <-t.C():
		case <-a.ctx.Done():
			t.Stop()
			return
		}
	}
}

// sendNext sends e's first pending record and, once acknowledged,
// updates or removes its file. It reports whether a server answered.
func (a *Accounting) sendNext(e *spoolEntry) bool {
	a.mu.Lock()
	var status uint32
	var attrs []byte
	var at int64
	switch {
	case e.Flags&flagStart != 0:
		status, at = statusStart, e.StartAt
	case e.Flags&flagInterim != 0:
		status, attrs, at = statusInterim, e.Interim, e.InterimAt
	case e.Flags&flagStop != 0:
		status, attrs, at = statusStop, e.Stop, e.StopAt
	default:
		a.mu.Unlock()
		return true
	}
	if e.Flags&flagSystem != 0 {
		status = map[uint32]uint32{statusStart: statusOn, statusStop: statusOff}[status]
	}
	base, group, id := e.Base, e.Group, e.ID
	if e.attempts > 0 {
		a.st.retries.Add(1)
	}
	e.attempts++
	a.mu.Unlock()

	nas := a.c.NAS()
	var delay uint32
	build := func(p *radius.Packet) error {
		// RFC 2866 §5.2: the seconds the record has waited, renewed on
		// every send (a new Identifier and Request Authenticator).
		if d := a.clock.Now().Sub(time.Unix(0, at)); d > 0 {
			delay = uint32(d / time.Second)
		}
		p.Add(rfc2866.AcctStatusType_Type, radius.NewInteger(status))
		if err := nas.addSession(p, nil); err != nil {
			return err
		}
		if err := addRaw(p, base); err != nil {
			return err
		}
		if err := addRaw(p, attrs); err != nil {
			return err
		}
		p.Add(rfc2866.AcctDelayTime_Type, radius.NewInteger(delay))
		return nil
	}
	a.st.sent[status].Add(1)
	_, err := a.c.Exchange(a.ctx, group, AcctPort, radius.CodeAccountingRequest, build)
	if err != nil {
		if a.ctx.Err() == nil {
			a.dbg.Debug("AAA/ACCT: no answer; will retry", "session", id, "status", statusName(status), "err", err)
		}
		return false
	}
	a.st.acked[status].Add(1)
	a.dbg.Debug("AAA/ACCT: acknowledged", "session", id, "status", statusName(status), "delay", delay)
	a.mu.Lock()
	defer a.mu.Unlock()
	e.attempts = 0
	switch status {
	case statusOn:
		e.Flags &^= flagStart
		if a.on == e {
			a.on = nil
			select { // the records held behind it may go
			case a.wake <- struct{}{}:
			default:
			}
		}
		if e.Flags&flagAll == 0 {
			status = statusStop // done: the file goes
		}
	case statusOff:
		e.Flags &^= flagStop
		status = statusStop
	case statusStart:
		e.Flags &^= flagStart
	case statusInterim:
		if e.InterimAt == at {
			e.Flags &^= flagInterim
		} // else a newer Interim came while this one was out: send it too
	case statusStop:
		e.Flags &^= flagStop
	}
	if status == statusStop {
		if err := a.dir.remove(id); err != nil {
			a.st.writeErrors.Add(1)
			a.log.Warn("radius: accounting spool", "err", err)
		}
		delete(a.entries, id)
		a.bytes -= int64(e.size)
		e.Flags = 0
		return true
	}
	old := *e
	if status == statusStart {
		old.Flags |= flagStart
	} else if e.Flags&flagInterim == 0 {
		old.Flags |= flagInterim
	}
	if err := a.rewriteLocked(e, &old); err != nil {
		// The record may be sent again: a duplicate RFC 2866 allows
		// (same Acct-Session-Id and Acct-Status-Type).
		a.log.Warn("radius: accounting spool", "err", err)
	}
	return true
}

// addRaw adds a chain of attributes as spooled.
func addRaw(p *radius.Packet, b []byte) error {
	if err := checkAttributes(b); err != nil {
		return fmt.Errorf("radius: spooled attributes: %w", err)
	}
	for len(b) > 0 {
		l := int(b[1])
		p.Add(radius.Type(b[0]), radius.Attribute(append([]byte(nil), b[2:l]...)))
		b = b[l:]
	}
	return nil
}

func statusName(s uint32) string {
	switch s {
	case statusStart:
		return "Start"
	case statusInterim:
		return "Interim-Update"
	case statusStop:
		return "Stop"
	case statusOn:
		return "Accounting-On"
	case statusOff:
		return "Accounting-Off"
	}
	return fmt.Sprint(s)
}

// Stats returns the counters.
func (a *Accounting) Stats() AccountingStats {
	a.mu.Lock()
	st := AccountingStats{Records: len(a.entries), Bytes: a.bytes}
	for _, e := range a.entries {
		if e.Flags != 0 {
			st.Pending++
		}
	}
	a.mu.Unlock()
	c := &a.st
	st.QueuedStart, st.QueuedInterim, st.QueuedStop = c.queued[statusStart].Load(), c.queued[statusInterim].Load(), c.queued[statusStop].Load()
	st.SentStart, st.SentInterim, st.SentStop = c.sent[statusStart].Load(), c.sent[statusInterim].Load(), c.sent[statusStop].Load()
	st.AckedStart, st.AckedInterim, st.AckedStop = c.acked[statusStart].Load(), c.acked[statusInterim].Load(), c.acked[statusStop].Load()
	st.Retries, st.RefusedFull, st.InterimsDropped = c.retries.Load(), c.refusedFull.Load(), c.interimsDropped.Load()
	st.WriteErrors, st.BadFiles = c.writeErrors.Load(), c.badFiles.Load()
	st.Recovered, st.RecoveredStops = c.recovered.Load(), c.recoveredStops.Load()
	st.QueuedOn, st.SentOn, st.AckedOn = c.queued[statusOn].Load(), c.sent[statusOn].Load(), c.acked[statusOn].Load()
	st.QueuedOff, st.SentOff, st.AckedOff = c.queued[statusOff].Load(), c.sent[statusOff].Load(), c.acked[statusOff].Load()
	return st
}

// SpooledSession is a spooled session, for show aaa sessions.
type SpooledSession struct {
	ID, Group string
	Started   time.Time
	// Pending names the records not yet acknowledged.
	Pending  []string
	Attempts int
}

// Sessions returns the spooled sessions, oldest first.
func (a *Accounting) Sessions() []SpooledSession {
	a.mu.Lock()
	es := make([]*spoolEntry, 0, len(a.entries))
	for _, e := range a.entries {
		es = append(es, e)
	}
	out := make([]SpooledSession, 0, len(es))
	slices.SortFunc(es, func(x, y *spoolEntry) int { return cmp.Compare(x.Seq, y.Seq) })
	for _, e := range es {
		s := SpooledSession{ID: e.ID, Group: e.Group, Started: time.Unix(0, e.StartAt), Attempts: e.attempts}
		names := []struct {
			bit  uint8
			name string
		}{{flagStart, "Start"}, {flagInterim, "Interim-Update"}, {flagStop, "Stop"}}
		if e.Flags&flagSystem != 0 {
			names[0].name, names[2].name = "Accounting-On", "Accounting-Off"
		}
		for _, f := range names {
			if e.Flags&f.bit != 0 {
				s.Pending = append(s.Pending, f.name)
			}
		}
		out = append(out, s)
	}
	a.mu.Unlock()
	return out
}

// Close waits until every pending record is acknowledged or ctx is done,
// then stops sending; what is left stays in the spool for the next run.
func (a *Accounting) Close(ctx context.Context) {
	for {
		a.mu.Lock()
		pending := 0
		for _, e := range a.entries {
			if e.Flags != 0 {
				pending++
			}
		}
		a.mu.Unlock()
		if pending == 0 {
			break
		}
		t := a.clock.NewTimer(50 * time.Millisecond)
		select {
		case <-t.C():
			continue
		case <-ctx.Done():
			t.Stop()
		}
		break
	}
	a.cancel()
	a.wg.Wait()
}
