package radius

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/transport/memnet"
)

var acctSrv = netip.MustParseAddrPort("198.18.0.2:1813")

func newTestAccounting(t *testing.T, c *Client, dir string, lim SpoolLimits) *Accounting {
	t.Helper()
	a, err := NewAccounting(AccountingConfig{Client: c, Dir: dir, Limits: lim, Workers: 4, MaxBackoff: 4 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func testRecord(id string) *aaa.AccountingRecord {
	return &aaa.AccountingRecord{SessionID: id, Username: "alice", NASPort: "Vi3", PortNumber: 3, PortType: 5,
		FramedAddress: netip.MustParseAddr("198.19.1.10"), CallingNumber: "198.18.1.1", Authentic: aaa.AuthenticRADIUS,
		Class: [][]byte{[]byte("class-1")}}
}

// acctRequests returns the Accounting-Requests the fake received.
func acctRequests(f *fakeServer) []*radius.Packet {
	var out []*radius.Packet
	for _, p := range f.received() {
		if p.Code == radius.CodeAccountingRequest {
			out = append(out, p)
		}
	}
	return out
}

func status(p *radius.Packet) uint32 { return uint32(rfc2866.AcctStatusType_Get(p)) }

func spoolFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+spoolExt))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestAccountingRecords: Start, Interim-Update and Stop carry RFC 2866's
// attributes (the Stop's counters with Gigawords, the typed cause, Class
// echoed, the NAS identity); the spool is empty once all are answered.
func TestAccountingRecords(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(1)
		f := newFakeServer(t, n, acctSrv, testSecret)
		defer f.Close()
		c := newTestClient(t, n, 0, srv1)
		defer c.Close()
		dir := t.TempDir()
		a := newTestAccounting(t, c, dir, SpoolLimits{})
		defer a.Close(context.Background())
		l := a.List("radius", false)
		ctx := context.Background()
		r := testRecord("00000001000000A1")
		if err := l.Start(ctx, r); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		r.InOctets, r.OutOctets, r.InPackets, r.OutPackets, r.SessionSeconds = 1000, 2000, 10, 20, 60
		if err := l.Interim(ctx, r); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		r.InOctets, r.OutOctets, r.InPackets, r.OutPackets, r.SessionSeconds = 5<<32+7, 3, 11, 21, 90
		r.TerminateCode = 6
		if err := l.Stop(ctx, r); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		reqs := acctRequests(f)
		if len(reqs) != 3 {
			t.Fatalf("%d accounting requests, want 3", len(reqs))
		}
		for i, want := range []uint32{statusStart, statusInterim, statusStop} {
			p := reqs[i]
			if status(p) != want {
				t.Errorf("request %d: status %d, want %d", i, status(p), want)
			}
			if rfc2866.AcctSessionID_GetString(p) != "00000001000000A1" || rfc2865.UserName_GetString(p) != "alice" ||
				rfc2865.NASIdentifier_GetString(p) != "lns1" || rfc2865.NASIPAddress_Get(p).String() != "198.18.0.1" ||
				rfc2865.FramedIPAddress_Get(p).String() != "198.19.1.10" || string(rfc2865.Class_Get(p)) != "class-1" ||
				rfc2866.AcctAuthentic_Get(p) != rfc2866.AcctAuthentic_Value_RADIUS || rfc2869.NASPortID_GetString(p) != "Vi3" {
				t.Errorf("request %d: attributes %v", i, p.Attributes)
			}
			if p.Get(rfc2866.AcctDelayTime_Type) == nil || rfc2866.AcctDelayTime_Get(p) != 0 {
				t.Errorf("request %d: Acct-Delay-Time %v", i, p.Get(rfc2866.AcctDelayTime_Type))
			}
		}
		if p := reqs[1]; rfc2866.AcctInputOctets_Get(p) != 1000 || rfc2866.AcctOutputPackets_Get(p) != 20 || rfc2866.AcctSessionTime_Get(p) != 60 ||
			p.Get(rfc2866.AcctTerminateCause_Type) != nil {
			t.Errorf("interim: %v", p.Attributes)
		}
		if p := reqs[2]; rfc2866.AcctInputOctets_Get(p) != 7 || rfc2869.AcctInputGigawords_Get(p) != 5 || rfc2866.AcctOutputOctets_Get(p) != 3 ||
			rfc2866.AcctTerminateCause_Get(p) != rfc2866.AcctTerminateCause_Value_AdminReset || rfc2866.AcctSessionTime_Get(p) != 90 {
			t.Errorf("stop: %v", p.Attributes)
		}
		if fs := spoolFiles(t, dir); len(fs) != 0 {
			t.Errorf("spool not empty: %v", fs)
		}
		st := a.Stats()
		if st.AckedStart != 1 || st.AckedInterim != 1 || st.AckedStop != 1 || st.Records != 0 || st.Retries != 0 {
			t.Errorf("stats %+v", st)
		}
		// A Stop-only list sends the Stop alone.
		so := a.List("radius", true)
		r2 := testRecord("00000001000000A2")
		_ = so.Start(ctx, r2)
		_ = so.Interim(ctx, r2)
		_ = so.Stop(ctx, r2)
		synctest.Wait()
		reqs = acctRequests(f)
		if len(reqs) != 4 || status(reqs[3]) != statusStop {
			t.Errorf("stop-only: %d requests", len(reqs))
		}
	})
}

// TestAccountingOutage: while no server answers, the record stays in the
// spool and is sent again with backoff; each send has a larger
// Acct-Delay-Time, so a new Identifier and Request Authenticator (RFC
// 2866 §5.2), while the retransmissions of one send are the same packet.
func TestAccountingOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(1)
		f := newFakeServer(t, n, acctSrv, testSecret)
		defer f.Close()
		f.mode.Store(int32(fakeSilent))
		c := newTestClient(t, n, 0, srv1)
		defer c.Close()
		dir := t.TempDir()
		a := newTestAccounting(t, c, dir, SpoolLimits{})
		defer a.Close(context.Background())
		if err := a.List("radius", false).Start(context.Background(), testRecord("S1")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(60 * time.Second)
		synctest.Wait()
		if fs := spoolFiles(t, dir); len(fs) != 1 {
			t.Fatalf("spool during the outage: %v", fs)
		}
		f.mode.Store(int32(fakeGood))
		time.Sleep(30 * time.Second)
		synctest.Wait()
		reqs := acctRequests(f)
		if len(reqs) < 6 {
			t.Fatalf("%d transmissions", len(reqs))
		}
		// Group the transmissions by send: 3 each (first + 2 retransmissions).
		type send struct {
			id    uint8
			auth  [16]byte
			delay uint32
		}
		var sends []send
		for _, p := range reqs {
			s := send{p.Identifier, p.Authenticator, uint32(rfc2866.AcctDelayTime_Get(p))}
			if len(sends) > 0 && sends[len(sends)-1] == s {
				continue // a retransmission: the same packet
			}
			sends = append(sends, s)
		}
		for i := 1; i < len(sends); i++ {
			if sends[i].delay <= sends[i-1].delay || sends[i].id == sends[i-1].id || sends[i].auth == sends[i-1].auth {
				t.Errorf("send %d %+v after %+v: delay, identifier and authenticator must all change", i, sends[i], sends[i-1])
			}
		}
		// The session stays spooled (its open record) with nothing pending.
		if st := a.Stats(); st.AckedStart != 1 || st.Retries == 0 || st.Pending != 0 || st.Records != 1 {
			t.Errorf("stats %+v", st)
		}
	})
}

// TestAccountingCrashReplay: a spool left by one instance (its server
// silent, then the instance gone without a word) is taken over by the
// next: the unsent Starts go out, the session that was up gets a Stop
// with its last Interim's counters and NAS-Reboot, the one that had
// stopped gets its own Stop; nothing twice.
func TestAccountingCrashReplay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(1)
		f := newFakeServer(t, n, acctSrv, testSecret)
		defer f.Close()
		f.mode.Store(int32(fakeSilent))
		c := newTestClient(t, n, 0, srv1)
		dir := t.TempDir()
		a1 := newTestAccounting(t, c, dir, SpoolLimits{})
		l := a1.List("radius", false)
		ctx := context.Background()
		up, gone := testRecord("UP"), testRecord("GONE")
		_ = l.Start(ctx, up)
		_ = l.Start(ctx, gone)
		up.InOctets, up.OutOctets, up.SessionSeconds = 123, 456, 300
		_ = l.Interim(ctx, up)
		gone.TerminateCode, gone.SessionSeconds = 1, 5
		_ = l.Stop(ctx, gone)
		synctest.Wait()
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		a1.Close(cancelled) // the crash: nothing acknowledged
		c.Close()
		if fs := spoolFiles(t, dir); len(fs) != 2 {
			t.Fatalf("spool: %v", fs)
		}
		before := len(acctRequests(f))

		f.mode.Store(int32(fakeGood))
		c2 := newTestClient(t, n, 0, srv1)
		defer c2.Close()
		a2 := newTestAccounting(t, c2, dir, SpoolLimits{})
		defer a2.Close(context.Background())
		synctest.Wait()
		got := map[string][]uint32{}
		for _, p := range acctRequests(f)[before:] {
			id := rfc2866.AcctSessionID_GetString(p)
			got[id] = append(got[id], status(p))
			if status(p) == statusStop && id == "UP" {
				if rfc2866.AcctTerminateCause_Get(p) != rfc2866.AcctTerminateCause_Value_NASReboot ||
					rfc2866.AcctInputOctets_Get(p) != 123 || rfc2866.AcctOutputOctets_Get(p) != 456 || rfc2866.AcctSessionTime_Get(p) != 300 {
					t.Errorf("recovered stop: %v", p.Attributes)
				}
			}
			if status(p) == statusStop && id == "GONE" && rfc2866.AcctTerminateCause_Get(p) != rfc2866.AcctTerminateCause_Value_UserRequest {
				t.Errorf("spooled stop: %v", p.Attributes)
			}
		}
		want := []uint32{statusStart, statusStop}
		for _, id := range []string{"UP", "GONE"} {
			if len(got[id]) != 2 || got[id][0] != want[0] || got[id][1] != want[1] {
				t.Errorf("%s: records %v, want Start then Stop", id, got[id])
			}
		}
		if st := a2.Stats(); st.Recovered != 2 || st.RecoveredStops != 1 || st.Records != 0 {
			t.Errorf("stats %+v", st)
		}
		if fs := spoolFiles(t, dir); len(fs) != 0 {
			t.Errorf("spool: %v", fs)
		}
	})
}

// TestSpoolBounds: beyond the record cap a Start is refused and counted
// (never a spooled session's Stop); an Interim-Update superseded before
// it was sent is dropped and counted.
func TestSpoolBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(1)
		f := newFakeServer(t, n, acctSrv, testSecret)
		defer f.Close()
		f.mode.Store(int32(fakeSilent))
		c := newTestClient(t, n, 0, srv1)
		defer c.Close()
		a := newTestAccounting(t, c, t.TempDir(), SpoolLimits{Records: 2})
		defer func() {
			cancelled, cancel := context.WithCancel(context.Background())
			cancel()
			a.Close(cancelled)
		}()
		l := a.List("radius", false)
		ctx := context.Background()
		for _, id := range []string{"A", "B"} {
			if err := l.Start(ctx, testRecord(id)); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Start(ctx, testRecord("C")); err == nil {
			t.Error("a third session was spooled past the cap of 2")
		}
		for range 3 {
			if err := l.Interim(ctx, testRecord("A")); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Stop(ctx, testRecord("B")); err != nil {
			t.Fatal(err)
		}
		if err := l.Stop(ctx, testRecord("B")); err == nil {
			t.Error("a second Stop was taken")
		}
		if err := l.Start(ctx, testRecord("A")); err == nil {
			t.Error("a second Start was taken")
		}
		st := a.Stats()
		if st.RefusedFull != 1 || st.InterimsDropped != 2 || st.Records != 2 {
			t.Errorf("stats %+v", st)
		}
	})
}

// TestSpoolDecodeBad: every malformed file is refused with an error; a
// file that does not decode is set aside at start, counted, and the
// others are taken over.
func TestSpoolDecodeBad(t *testing.T) {
	good := &spoolEntry{ID: "S1", Group: "radius", Flags: flagStart | flagStop, Base: baseAttributes(testRecord("S1")), StartAt: 1,
		Stop: counterAttributes(testRecord("S1"), true), StopAt: 2, Seq: 3}
	b, err := good.encode()
	if err != nil {
		t.Fatal(err)
	}
	e, err := decodeSpoolEntry(b)
	if err != nil || e.ID != "S1" || e.Group != "radius" || e.Flags != good.Flags || !bytes.Equal(e.Base, good.Base) || e.StopAt != 2 || e.Seq != 3 {
		t.Fatalf("round trip: %+v, %v", e, err)
	}
	fix := func(m func(b []byte) []byte) []byte {
		c := m(append([]byte(nil), b...))
		return c
	}
	recrc := func(c []byte) []byte { // keep the checksum right
		sum := crcOf(c[spoolHeader:])
		copy(c[8:12], sum)
		return c
	}
	bad := map[string][]byte{
		"empty":       nil,
		"short":       b[:8],
		"magic":       fix(func(c []byte) []byte { c[0] = 'X'; return c }),
		"version":     fix(func(c []byte) []byte { c[4] = 2; return c }),
		"flags":       fix(func(c []byte) []byte { c[5] = 0x80; return c }),
		"length":      fix(func(c []byte) []byte { c[7]++; return c }),
		"checksum":    fix(func(c []byte) []byte { c[len(c)-1] ^= 1; return c }),
		"truncated":   b[:len(b)-1],
		"field-past":  fix(func(c []byte) []byte { c[spoolHeader+2] = 200; return recrc(c) }),
		"unknown":     fix(func(c []byte) []byte { c[spoolHeader] = 99; return recrc(c) }),
		"duplicate":   fix(func(c []byte) []byte { c[spoolHeader+3+2] = fieldID; return recrc(c) }), // group field retyped as a second ID
		"bad-attrs":   mustEncode(t, &spoolEntry{ID: "S", Group: "g", Base: []byte{1, 1}, Seq: 1}),
		"flag-no-stp": mustEncodeRaw(t, &spoolEntry{ID: "S", Group: "g", Flags: flagStop, Seq: 1}),
	}
	for name, in := range bad {
		if _, err := decodeSpoolEntry(in); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, spoolName("S1")), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, spoolName("S2")), bad["checksum"], 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".tmp-123"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := spoolDir{dir: dir}
	es, nbad, err := d.load()
	if err != nil || len(es) != 1 || nbad != 1 {
		t.Fatalf("load: %d entries, %d bad, %v", len(es), nbad, err)
	}
	if _, err := os.Stat(filepath.Join(dir, spoolName("S2")+".bad")); err != nil {
		t.Errorf("bad file not set aside: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".tmp-123")); err == nil {
		t.Error("temporary file left")
	}
}

func mustEncode(t *testing.T, e *spoolEntry) []byte {
	t.Helper()
	b, err := e.encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mustEncodeRaw encodes e even where decode would refuse it.
func mustEncodeRaw(t *testing.T, e *spoolEntry) []byte { return mustEncode(t, e) }

// FuzzSpoolDecode: decoding never panics, and what decodes encodes back
// to the same octets.
func FuzzSpoolDecode(f *testing.F) {
	e := &spoolEntry{ID: "S1", Group: "radius", Flags: flagStart | flagInterim, Base: baseAttributes(testRecord("S1")), StartAt: 1,
		Interim: counterAttributes(testRecord("S1"), false), InterimAt: 2, Seq: 3}
	b, _ := e.encode()
	f.Add(b)
	f.Add(b[:20])
	f.Add([]byte("VPAS\x01\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, in []byte) {
		e, err := decodeSpoolEntry(in)
		if err != nil {
			return
		}
		out, err := e.encode()
		if err != nil {
			t.Fatalf("decoded but does not encode: %v", err)
		}
		e2, err := decodeSpoolEntry(out)
		if err != nil || e2.ID != e.ID || e2.Flags != e.Flags || !bytes.Equal(e2.Base, e.Base) || !bytes.Equal(e2.Stop, e.Stop) ||
			!bytes.Equal(e2.Interim, e.Interim) || e2.Seq != e.Seq || e2.StartAt != e.StartAt {
			t.Fatalf("round trip: %+v vs %+v (%v)", e2, e, err)
		}
	})
}

func crcOf(b []byte) []byte {
	return binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(b))
}

// TestAccountingOnOff: Accounting-On (RFC 2866 §5.1, status 7) goes
// first, and a session's Start spooled after it waits until it is
// acknowledged, through an outage; Accounting-Off (8) goes after the
// Stop. Each has its own Acct-Session-Id of 24 hex digits and the NAS's
// identity, and the spool is empty at the end.
func TestAccountingOnOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(1)
		f := newFakeServer(t, n, acctSrv, testSecret)
		defer f.Close()
		f.mode.Store(int32(fakeSilent))
		c := newTestClient(t, n, 0, srv1)
		defer c.Close()
		dir := t.TempDir()
		a := newTestAccounting(t, c, dir, SpoolLimits{})
		defer a.Close(context.Background())
		ctx := context.Background()
		if err := a.System("radius", true); err != nil {
			t.Fatal(err)
		}
		l := a.List("radius", false)
		r := testRecord("00000001000000A1")
		if err := l.Start(ctx, r); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Second)
		synctest.Wait()
		for _, p := range acctRequests(f) {
			if status(p) != statusOn {
				t.Fatalf("status %d sent while the Accounting-On is not acknowledged", status(p))
			}
		}
		if len(acctRequests(f)) == 0 {
			t.Fatal("no Accounting-On sent")
		}
		f.mode.Store(int32(fakeGood))
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if err := l.Stop(ctx, r); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if err := a.System("radius", false); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		var got []uint32
		ids := map[uint32]string{}
		for _, p := range acctRequests(f) {
			if s := status(p); len(got) == 0 || got[len(got)-1] != s {
				got = append(got, s)
			}
			ids[status(p)] = rfc2866.AcctSessionID_GetString(p)
			if s := status(p); (s == statusOn || s == statusOff) && (p.Get(rfc2865.UserName_Type) != nil || rfc2865.NASIdentifier_GetString(p) != "lns1") {
				t.Errorf("status %d: attributes %v", s, p.Attributes)
			}
		}
		want := []uint32{statusOn, statusStart, statusStop, statusOff}
		if !slices.Equal(got, want) {
			t.Fatalf("statuses %v, want %v", got, want)
		}
		for _, s := range []uint32{statusOn, statusOff} {
			if id := ids[s]; len(id) != 24 || strings.Trim(id, "0123456789ABCDEF") != "" {
				t.Errorf("status %d: Acct-Session-Id %q", s, id)
			}
		}
		if ids[statusOn] == ids[statusOff] {
			t.Error("Accounting-On and -Off share an Acct-Session-Id")
		}
		if fs := spoolFiles(t, dir); len(fs) != 0 {
			t.Errorf("spool not empty: %v", fs)
		}
		st := a.Stats()
		if st.QueuedOn != 1 || st.AckedOn != 1 || st.QueuedOff != 1 || st.AckedOff != 1 || st.SentOn < 2 || st.Records != 0 {
			t.Errorf("stats %+v", st)
		}
	})
}

// TestAccountingOffSpooled: an Accounting-Off no server acknowledged
// stays in the spool and is sent at the next start, without a Stop made
// for it as for a session.
func TestAccountingOffSpooled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(1)
		f := newFakeServer(t, n, acctSrv, testSecret)
		defer f.Close()
		f.mode.Store(int32(fakeSilent))
		c := newTestClient(t, n, 0, srv1)
		defer c.Close()
		dir := t.TempDir()
		a := newTestAccounting(t, c, dir, SpoolLimits{})
		if err := a.System("radius", false); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		a.Close(ctx)
		cancel()
		if fs := spoolFiles(t, dir); len(fs) != 1 {
			t.Fatalf("spool %v, want the Off", fs)
		}
		f.mode.Store(int32(fakeGood))
		before := len(acctRequests(f))
		b := newTestAccounting(t, c, dir, SpoolLimits{})
		defer b.Close(context.Background())
		synctest.Wait()
		reqs := acctRequests(f)[before:]
		if len(reqs) != 1 || status(reqs[0]) != statusOff || rfc2866.AcctDelayTime_Get(reqs[0]) < 3 {
			t.Fatalf("after restart: %d requests %v", len(reqs), reqs)
		}
		if st := b.Stats(); st.RecoveredStops != 0 || st.Records != 0 {
			t.Errorf("stats %+v", st)
		}
	})
}
