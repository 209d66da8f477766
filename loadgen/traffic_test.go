package loadgen

import (
	"github.com/vpdn/vpdn/internal/csum"
	"net/netip"
	"testing"
	"time"

	"github.com/vpdn/vpdn/aaa"
)

// Echo packets: a request we build has valid checksums, a reply to us is
// recognised, and anything else is not.
func TestEchoCodec(t *testing.T) {
	local, lns := netip.MustParseAddr("198.19.1.7"), netip.MustParseAddr("198.19.0.1")
	req := appendEcho(nil, local, lns, 0x1234, 9, 84)
	if len(req) != 84 || csum.Checksum(req[:20]) != 0 || csum.Checksum(req[20:]) != 0 {
		t.Fatalf("request %x: length %d or checksums wrong", req, len(req))
	}
	if _, ok := parseEchoReply(req, local); ok {
		t.Fatal("a request taken for a reply")
	}
	reply := append([]byte(nil), req...)
	copy(reply[12:16], req[16:20])
	copy(reply[16:20], req[12:16])
	reply[20], reply[22], reply[23] = 0, 0, 0
	c := csum.Checksum(reply[20:])
	reply[22], reply[23] = byte(c>>8), byte(c)
	if id, ok := parseEchoReply(reply, local); !ok || id != 0x1234 {
		t.Fatalf("reply not recognised: %v %#x", ok, id)
	}
	for name, mutate := range map[string]func(b []byte) []byte{
		"other destination": func(b []byte) []byte { b[19]++; return b },
		"bad ICMP checksum": func(b []byte) []byte { b[30]++; return b },
		"not ICMP":          func(b []byte) []byte { b[9] = 17; return b },
		"truncated":         func(b []byte) []byte { return b[:27] },
		"IPv6":              func(b []byte) []byte { b[0] = 0x60; return b },
		"bad IHL":           func(b []byte) []byte { b[0] = 0x4f; return b },
	} {
		if _, ok := parseEchoReply(mutate(append([]byte(nil), reply...)), local); ok {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestTrafficInMemory: with traffic on, every established session pings
// the LNS through its tunnel during the hold and gets its replies.
func TestTrafficInMemory(t *testing.T) {
	rep, _ := runAgainst(t, []aaa.Method{aaa.CHAP}, Config{Tunnels: 4, Sessions: 50, User: "lac1", Password: "lacpass",
		Hold: 5 * time.Second, Traffic: Traffic{Interval: time.Second, Size: 200}}, false)
	t.Logf("%s", rep)
	if rep.Established != 200 {
		t.Fatalf("established %d of 200", rep.Established)
	}
	tr := rep.Traffic
	// 5 s of hold at 1 s: about 5 requests per session.
	if tr.Sent < 200*4 || tr.Sent > 200*6 {
		t.Errorf("%d echo requests, want about 1,000", tr.Sent)
	}
	if tr.Received != tr.Sent || tr.Unanswered != 0 {
		t.Errorf("%d replies to %d requests, %d sessions unanswered", tr.Received, tr.Sent, tr.Unanswered)
	}
}

// Bad traffic settings are refused before the run.
func TestTrafficConfig(t *testing.T) {
	for _, tr := range []Traffic{{Interval: -1}, {Interval: time.Second, Size: 27}, {Interval: time.Second, Size: 1461},
		{Interval: time.Second, Target: netip.MustParseAddr("2001:db8::1")}} {
		c := Config{Server: lnsAddr, Tunnels: 1, Sessions: 1, User: "u", Password: "p", Traffic: tr}
		if err := c.check(); err == nil {
			t.Errorf("%+v accepted", tr)
		}
	}
}
