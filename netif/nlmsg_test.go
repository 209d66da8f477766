package netif

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The fixtures are little-endian, as the kernel writes them on the
// machines we run on (netlink integers are in host order).
func skipBigEndian(t testing.TB) {
	var b [2]byte
	binary.NativeEndian.PutUint16(b[:], 1)
	if b[0] != 1 {
		t.Skip("fixtures are little-endian")
	}
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// One message of each kind the Kernel reads, as a dump carries them.
const (
	// RTM_NEWADDR, NLM_F_MULTI: 198.19.0.1 peer 198.19.0.2/32 on index 7.
	fixAddrPeer = `28000000 1400 0200 01000000 00000000
		02 20 80 00 07000000
		0800 0100 c6130002
		0800 0200 c6130001`
	// RTM_NEWADDR: 2001:db8::1/64 on index 3 (IFA_ADDRESS only, as the
	// kernel sends IPv6 addresses).
	fixAddr6 = `2c000000 1400 0200 01000000 00000000
		0a 40 80 00 03000000
		1400 0100 20010db8000000000000000000000001`
	// RTM_NEWROUTE: 198.19.5.0/24 via 198.19.0.2 dev index 7 metric 100,
	// table main, static.
	fixRoute = `54000000 1800 0200 01000000 00000000
		02 18 00 00 fe 04 00 01 00000000
		0800 0f00 fe000000
		0800 0100 c6130500
		0800 0500 c6130002
		0800 0400 07000000
		0800 0600 64000000
		0800 0700 c6130001
		0800 0900 00000000`
	// RTM_NEWLINK: tap0, index 7, MTU 1500, MAC 02:00:00:00:00:01.
	fixLink = `40000000 1000 0000 01000000 00000000
		00 00 0100 07000000 43100100 00000000
		0900 0300 74617030 00000000
		0800 0400 dc050000
		0a00 0100 020000000001 0000`
	// NLMSG_ERROR with NLM_F_CAPPED|NLM_F_ACK_TLVS: ENETDOWN and the
	// kernel's message.
	fixErr = `44000000 0200 0003 05000000 00000000
		9cffffff
		24000000 1800 0506 05000000 00000000
		1d00 0100 4e657874686f7020646576696365206973206e6f7420757000 000000`
	// NLMSG_ERROR 0: an acknowledgement.
	fixAck = `24000000 0200 0001 06000000 00000000
		00000000
		24000000 1400 0506 06000000 00000000`
)

func TestParseFixtures(t *testing.T) {
	skipBigEndian(t)
	msgs := func(s string) (uint16, uint16, []byte) {
		it := nlMsgs{b: unhex(t, s)}
		if !it.next() {
			t.Fatalf("no message: %v", it.err)
		}
		typ, flags, body := it.typ, it.flags, it.body
		if it.next() || it.err != nil {
			t.Fatalf("more than one message, or %v", it.err)
		}
		return typ, flags, body
	}

	_, _, body := msgs(fixAddrPeer)
	a, err := parseAddr(body)
	if err != nil || a.index != 7 || a.prefix != netip.MustParsePrefix("198.19.0.1/32") || a.peer != netip.MustParseAddr("198.19.0.2") {
		t.Errorf("peer address: %+v %v", a, err)
	}
	_, _, body = msgs(fixAddr6)
	a, err = parseAddr(body)
	if err != nil || a.index != 3 || a.prefix != netip.MustParsePrefix("2001:db8::1/64") || a.peer.IsValid() {
		t.Errorf("IPv6 address: %+v %v", a, err)
	}
	_, _, body = msgs(fixRoute)
	r, err := parseRoute(body)
	want := Route{Dst: netip.MustParsePrefix("198.19.5.0/24"), Gateway: netip.MustParseAddr("198.19.0.2"), Metric: 100, Src: netip.MustParseAddr("198.19.0.1")}
	if err != nil || r.Route != want || r.oif != 7 || r.table != unix.RT_TABLE_MAIN || r.typ != unix.RTN_UNICAST {
		t.Errorf("route: %+v %v", r, err)
	}
	_, _, body = msgs(fixLink)
	l, err := parseLink(body)
	if err != nil || l.index != 7 || l.name != "tap0" || l.mtu != 1500 || !bytes.Equal(l.mac, net.HardwareAddr{2, 0, 0, 0, 0, 1}) {
		t.Errorf("link: %+v %v", l, err)
	}
	typ, flags, body := msgs(fixErr)
	errno, msg, err := nlError(body, flags)
	if typ != unix.NLMSG_ERROR || err != nil || errno != unix.ENETDOWN || msg != "Nexthop device is not up" {
		t.Errorf("error: %v %q %v", errno, msg, err)
	}
	_, flags, body = msgs(fixAck)
	if errno, msg, err := nlError(body, flags); errno != 0 || msg != "" || err != nil {
		t.Errorf("ack: %v %q %v", errno, msg, err)
	}
}

func TestParseBad(t *testing.T) {
	skipBigEndian(t)
	for _, c := range []struct {
		name, hex string
		parse     func([]byte) error
		want      string
	}{
		{"short header", "2800000014000200", nil, "shorter than its header"},
		{"length past the end", "40000000 1400 0200 01000000 00000000 0000", nil, "length 64"},
		{"length under the header", "08000000 1400 0200 01000000 00000000", nil, "length 8"},
		{"short ifaddrmsg", "14000000 1400 0200 01000000 00000000 02200000", addrErr, "address message of 4"},
		{"attribute past the end", "20000000 1400 0200 01000000 00000000 02 20 00 00 07000000 0c00 0200 c6130001", addrErr, "attribute length 12"},
		{"attribute under its header", "20000000 1400 0200 01000000 00000000 02 20 00 00 07000000 0200 0200 c6130001", addrErr, "attribute length 2"},
		{"address of 5 octets", "24000000 1400 0200 01000000 00000000 02 20 00 00 07000000 0900 0200 c613000100000000", addrErr, "address attribute 2 of 5"},
		{"no address", "18000000 1400 0200 01000000 00000000 02 20 00 00 07000000", addrErr, "without an address"},
		{"family mismatch", "20000000 1400 0200 01000000 00000000 0a 20 00 00 07000000 0800 0200 c6130001", addrErr, "family 10"},
		{"prefix too long", "20000000 1400 0200 01000000 00000000 02 21 00 00 07000000 0800 0200 c6130001", addrErr, "/33"},
		{"route /33", "24000000 1800 0200 01000000 00000000 02 21 00 00 fe 04 00 01 00000000 0800 0100 c6130500", routeErr, "/33"},
		{"route of family 7", "1c000000 1800 0200 01000000 00000000 07 00 00 00 fe 04 00 01 00000000", routeErr, "family 7"},
		{"oif of 2 octets", "24000000 1800 0200 01000000 00000000 02 18 00 00 fe 04 00 01 00000000 0600 0400 0700 0000", routeErr, "of 2 octets, want 4"},
		{"short rtmsg", "18000000 1800 0200 01000000 00000000 02180000 fe040001", routeErr, "route message of 8"},
		{"short ifinfomsg", "18000000 1000 0200 01000000 00000000 00000100 07000000", linkErr, "link message of 8"},
		{"short error", "18000000 0200 0000 01000000 00000000 9cffffff 00000000", errErr, "error message of 8"},
		{"positive error code", "24000000 0200 0000 01000000 00000000 01000000 24000000 1400 0506 06000000 00000000", errErr, "error code 1"},
	} {
		it := nlMsgs{b: unhex(t, c.hex)}
		var err error
		if it.next() && c.parse != nil {
			err = c.parse(it.body)
		}
		if err == nil {
			err = it.err
		}
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "netif: ") {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
}

func addrErr(b []byte) error  { _, err := parseAddr(b); return err }
func routeErr(b []byte) error { _, err := parseRoute(b); return err }
func linkErr(b []byte) error  { _, err := parseLink(b); return err }
func errErr(b []byte) error   { _, _, err := nlError(b, 0); return err }

// TestBuildRoute: the requests the Kernel sends, read back with the
// parsers, and the exact octets of one.
func TestBuildRoute(t *testing.T) {
	skipBigEndian(t)
	var m nlBuilder
	r := Route{Dst: netip.MustParsePrefix("198.19.5.0/24"), Gateway: netip.MustParseAddr("198.19.0.2"), Metric: 100}
	appendRoute(&m, unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_EXCL, 9, 7, r)
	want := unhex(t, `3c000000 1800 0506 09000000 00000000
		02 18 00 00 fe 04 00 01 00000000
		0800 0100 c6130500
		0800 0400 07000000
		0800 0500 c6130002
		0800 0600 64000000`)
	if !bytes.Equal(m.b, want) {
		t.Fatalf("RTM_NEWROUTE\n got %x\nwant %x", m.b, want)
	}
	it := nlMsgs{b: m.b}
	it.next()
	got, err := parseRoute(it.body)
	if err != nil || got.Route != r || got.oif != 7 {
		t.Fatalf("read back %+v %v", got, err)
	}

	// Two messages in one buffer, with a nested attribute between.
	m = nlBuilder{}
	m.begin(unix.RTM_NEWLINK, unix.NLM_F_REQUEST, 1)
	m.ifinfo(7, 0, 0)
	spec := m.nest(unix.IFLA_AF_SPEC)
	in6 := m.nest(unix.AF_INET6)
	m.attrU8(unix.IFLA_INET6_ADDR_GEN_MODE, in6AddrGenModeNone)
	m.endNest(in6)
	m.endNest(spec)
	m.attr(unix.IFLA_IFNAME, []byte("Vi1\x00"))
	m.end()
	m.begin(unix.RTM_NEWADDR, unix.NLM_F_REQUEST, 2)
	m.ifaddr(unix.AF_INET6, 64, 0, 3)
	m.attrAddr(unix.IFA_ADDRESS, netip.MustParseAddr("2001:db8::1"))
	m.end()
	it = nlMsgs{b: m.b}
	if !it.next() || it.seq != 1 {
		t.Fatal("first message")
	}
	l, err := parseLink(it.body)
	if err != nil || l.index != 7 || l.name != "Vi1" {
		t.Fatalf("link %+v %v", l, err)
	}
	attrs := nlAttrs{b: it.body[ifInfoLen:]}
	if !attrs.next() || attrs.typ != unix.IFLA_AF_SPEC {
		t.Fatal("no IFLA_AF_SPEC")
	}
	inner := nlAttrs{b: attrs.val}
	if !inner.next() || inner.typ != unix.AF_INET6 {
		t.Fatal("no AF_INET6")
	}
	mode := nlAttrs{b: inner.val}
	if !mode.next() || mode.typ != unix.IFLA_INET6_ADDR_GEN_MODE || len(mode.val) != 1 || mode.val[0] != in6AddrGenModeNone {
		t.Fatalf("addr_gen_mode %d %x", mode.typ, mode.val)
	}
	if !it.next() || it.seq != 2 {
		t.Fatal("second message")
	}
	a, err := parseAddr(it.body)
	if err != nil || a.prefix != netip.MustParsePrefix("2001:db8::1/64") {
		t.Fatalf("address %+v %v", a, err)
	}
	if it.next() || it.err != nil {
		t.Fatalf("a third message, or %v", it.err)
	}
}

func TestKernelErrorIs(t *testing.T) {
	e := error(&kernelError{errno: unix.ENODEV})
	if !errors.Is(e, ErrNoDevice) || !errors.Is(e, unix.ENODEV) || errors.Is(e, unix.EEXIST) {
		t.Error("ENODEV")
	}
	e = &kernelError{errno: unix.EEXIST, msg: "File exists"}
	if !errors.Is(e, unix.EEXIST) || errors.Is(e, ErrNoDevice) || e.Error() != "file exists (File exists)" {
		t.Errorf("EEXIST: %v", e)
	}
}

// FuzzNetlink reads arbitrary octets as a batch of netlink messages the
// way the Kernel reads the kernel's answers, and writes every route it
// reads back with the encoder, which must read back the same.
func FuzzNetlink(f *testing.F) {
	for _, s := range []string{fixAddrPeer, fixAddr6, fixRoute, fixLink, fixErr, fixAck} {
		f.Add(unhex(f, s))
	}
	f.Add(unhex(f, fixAddrPeer+fixRoute+fixAck))
	f.Fuzz(func(t *testing.T, b []byte) {
		it := nlMsgs{b: b}
		for n := 0; it.next(); n++ {
			if n > len(b) {
				t.Fatal("more messages than octets")
			}
			switch it.typ {
			case unix.NLMSG_ERROR:
				nlError(it.body, it.flags)
			case unix.RTM_NEWLINK:
				parseLink(it.body)
			case unix.RTM_NEWADDR:
				parseAddr(it.body)
			case unix.RTM_NEWROUTE:
				r, err := parseRoute(it.body)
				if err != nil {
					continue
				}
				r.Dst = r.Dst.Masked()
				if r.Gateway.IsValid() && r.Gateway.Is4() != r.Dst.Addr().Is4() || r.Src.IsValid() && r.Src.Is4() != r.Dst.Addr().Is4() {
					continue
				}
				var m nlBuilder
				appendRoute(&m, unix.RTM_NEWROUTE, 0, 1, r.oif, r.Route)
				back := nlMsgs{b: m.b}
				if !back.next() {
					t.Fatalf("encoded route unreadable: %v", back.err)
				}
				r2, err := parseRoute(back.body)
				if err != nil || r2.Route != r.Route || r2.oif != r.oif {
					t.Fatalf("route %+v read back as %+v (%v)", r, r2, err)
				}
			}
		}
	})
}
