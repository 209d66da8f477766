package l2tp

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// Hex fixtures of L2TPv3 data messages, checked with tshark 4.0
// (text2pcap -e 115 / -u 1701,1701, then tshark -o l2tp.cookie_size:4
// -o l2tp.l2_specific:Default -V): session 2, cookie 0x0000d747 (document
// 004's "l2tp cookie remote 4 55111"), default L2-Specific Sublayer with
// S set and sequence 5, and a 2-octet payload.
const (
	fixV3IPData  = `00000002 0000d747 40000005 abcd`
	fixV3UDPData = `00030000 00000002 0000d747 40000005 abcd`
	// An 8-octet cookie 8 LOW=1 HIGH=2: the high half first.
	fixV3IPData8 = `00000002 00000002 00000001 abcd`
	// A HELLO over IP: zero session ID, T L S ver 3, Length 20, CCID 7,
	// Ns 1 Nr 2, Message Type HELLO (M).
	fixV3IPHello = `00000000 c8030014 00000007 00010002 8008 0000 0000 0006`
)

func TestV3DataFixtures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		hex     string
		udp     bool
		cookie  Cookie
		l2ss    bool
		seq     bool
		ns      uint32
		payload []byte
	}{
		{"ip", fixV3IPData, false, Cookie4(55111), true, true, 5, []byte{0xab, 0xcd}},
		{"udp", fixV3UDPData, true, Cookie4(55111), true, true, 5, []byte{0xab, 0xcd}},
		{"ip-cookie8-nol2ss", fixV3IPData8, false, Cookie8(1, 2), false, false, 0, []byte{0xab, 0xcd}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := unhex(t, tc.hex)
			got := AppendV3DataHeader(nil, tc.udp, 2, tc.cookie, tc.l2ss, tc.seq, tc.ns)
			if len(got) != V3DataHeaderLen(tc.udp, tc.cookie.Len(), tc.l2ss) {
				t.Fatalf("length %d, V3DataHeaderLen %d", len(got), V3DataHeaderLen(tc.udp, tc.cookie.Len(), tc.l2ss))
			}
			got = append(got, tc.payload...)
			if !bytes.Equal(got, want) {
				t.Fatalf("encode\n got %x\nwant %x", got, want)
			}
			id, ctl, err := V3Classify(want, tc.udp)
			if err != nil || ctl || id != 2 {
				t.Fatalf("classify: %d %v %v", id, ctl, err)
			}
			off := V3DataHeaderLen(tc.udp, 0, false)
			if !tc.cookie.Match(want[off:]) {
				t.Fatal("cookie does not match")
			}
			off += tc.cookie.Len()
			if tc.l2ss {
				s, ns, err := ParseL2SS(want[off:])
				if err != nil || s != tc.seq || ns != tc.ns {
					t.Fatalf("L2SS %v %d %v", s, ns, err)
				}
				off += L2SSLen
			}
			if !bytes.Equal(want[off:], tc.payload) {
				t.Fatalf("payload %x", want[off:])
			}
		})
	}
}

func TestV3ClassifyBad(t *testing.T) {
	for _, tc := range []struct {
		name string
		hex  string
		udp  bool
		err  error
	}{
		{"ip-empty", ``, false, ErrShort},
		{"ip-3", `000000`, false, ErrShort},
		{"udp-1", `00`, true, ErrShort},
		{"udp-v2", `0002 0000 00000002`, true, ErrNotV3},
		{"udp-data-short", `0003 0000 0000`, true, ErrShort},
		{"udp-session-0", `0003 0000 00000000`, true, ErrBadHeader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := V3Classify(unhex(t, tc.hex), tc.udp)
			if !errors.Is(err, tc.err) {
				t.Fatalf("got %v, want %v", err, tc.err)
			}
		})
	}
	if id, ctl, err := V3Classify(unhex(t, fixV3IPHello), false); err != nil || !ctl || id != 0 {
		t.Fatalf("HELLO over IP: %d %v %v", id, ctl, err)
	}
	if _, ctl, err := V3Classify(unhex(t, realV3SCCRQ), true); err != nil || !ctl {
		t.Fatalf("SCCRQ over UDP: %v %v", ctl, err)
	}
}

func TestCookie(t *testing.T) {
	if c := Cookie4(55111); c.String() != "00 00 D7 47" || c.Len() != 4 || !bytes.Equal(c.Bytes(), []byte{0, 0, 0xd7, 0x47}) {
		t.Fatalf("cookie4 %q", c)
	}
	if c := Cookie8(100, 0); c.String() != "00 00 00 00 00 00 00 64" {
		t.Fatalf("cookie8 %q", c)
	}
	for _, n := range []int{1, 2, 3, 5, 6, 7, 9} {
		if _, err := MakeCookie(make([]byte, n)); !errors.Is(err, ErrCookieLen) {
			t.Errorf("%d octets: %v", n, err)
		}
	}
	c, err := MakeCookie([]byte{1, 2, 3, 4})
	if err != nil || !c.Match([]byte{1, 2, 3, 4, 5}) || c.Match([]byte{1, 2, 3}) || c.Match([]byte{1, 2, 3, 5}) {
		t.Fatalf("match: %v", err)
	}
	if !(Cookie{}).Match(nil) {
		t.Fatal("empty cookie matches everything")
	}
}

func TestL2SS(t *testing.T) {
	b := AppendL2SS(nil, true, 1<<24+3) // wraps modulo 2^24
	if s, ns, err := ParseL2SS(b); !s || ns != 3 || err != nil {
		t.Fatalf("%v %d %v", s, ns, err)
	}
	if s, ns, _ := ParseL2SS(AppendL2SS(nil, false, 9)); s || ns != 0 {
		t.Fatal("no sequence")
	}
	if _, _, err := ParseL2SS([]byte{0x40, 0, 0}); !errors.Is(err, ErrShort) {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		a, b uint32
		less bool
	}{{1, 2, true}, {2, 1, false}, {1, 1, false}, {SeqMask24, 0, true}, {0, SeqMask24, false}, {0, 1 << 23, false}, {0, 1<<23 - 1, true}} {
		if SeqLess24(tc.a, tc.b) != tc.less {
			t.Errorf("SeqLess24(%d, %d) != %v", tc.a, tc.b, tc.less)
		}
	}
}

func TestV3ControlHeader(t *testing.T) {
	for _, udp := range []bool{false, true} {
		m := V3Message{Type: MsgHELLO}
		b := AppendV3ControlHeader(nil, udp, 7, 1, 2)
		b, err := m.AppendAVPs(b)
		if err != nil {
			t.Fatal(err)
		}
		if err := FinishV3Control(b, udp); err != nil {
			t.Fatal(err)
		}
		if !udp && !bytes.Equal(b, unhex(t, fixV3IPHello)) {
			t.Fatalf("HELLO over IP\n got %x\nwant %s", b, fixV3IPHello)
		}
		h, err := ParseV3Control(b, udp)
		if err != nil || h.CCID != 7 || h.Ns != 1 || h.Nr != 2 || h.End != len(b) {
			t.Fatalf("udp=%v: %+v %v", udp, h, err)
		}
		if got := b[V3OffNs(udp):]; got[0] != 0 || got[1] != 1 {
			t.Fatalf("V3OffNs")
		}
		var d V3Message
		if err := d.Decode(h.Payload(b), nil); err != nil || d.Type != MsgHELLO {
			t.Fatalf("decode %v", err)
		}
	}
	h, err := ParseV3Control(unhex(t, realV3SCCRQ), true)
	if err != nil {
		t.Fatal(err)
	}
	var m V3Message
	if err := m.Decode(h.Payload(unhex(t, realV3SCCRQ)), nil); err != nil {
		t.Fatal(err)
	}
	if m.Type != MsgSCCRQ || m.HostName != "openv3" || m.AssignedCCID != 0x2846f181 || m.RecvWindowSize != 10 ||
		!reflect.DeepEqual(m.PWCapabilities, []PWType{PWPPP, PWEthernet, PWEthernetVLAN}) {
		t.Fatalf("prol2tp SCCRQ: %+v", m)
	}

	for _, tc := range []struct {
		name string
		hex  string
		udp  bool
		err  error
	}{
		{"ip-short", `000000`, false, ErrShort},
		{"ip-nonzero-session", `00000001 c8030010 00000007 00010002`, false, ErrBadHeader},
		{"ip-header-short", `00000000 c8030010 000000`, false, ErrShort},
		{"udp-v2", `c8020010 00000007 00010002`, true, ErrNotV3},
		{"udp-no-L", `88030010 00000007 00010002`, true, ErrBadHeader},
		{"udp-no-S", `c0030010 00000007 00010002`, true, ErrBadHeader},
		{"udp-length-long", `c8030020 00000007 00010002`, true, ErrShort},
		{"udp-length-short", `c803000b 00000007 00010002`, true, ErrShort},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseV3Control(unhex(t, tc.hex), tc.udp); !errors.Is(err, tc.err) {
				t.Fatalf("got %v, want %v", err, tc.err)
			}
		})
	}
}

// fullV3 sets every AVP Append writes, with values that round-trip.
func fullV3(t MsgType) V3Message {
	m := V3Message{Type: t, Result: Result{Code: 2, Error: 6, HasError: true, Message: "x"}, HostName: "r5",
		VendorName: "vpdn", FirmwareRevision: 0x0100, RecvWindowSize: 8, TieBreaker: [8]byte{1, 2, 3, 4, 5, 6, 7, 8},
		RouterID: 0xc6120001, AssignedCCID: 9, PWCapabilities: []PWType{PWEthernet, PWEthernetVLAN, PWPPP},
		PreferredLanguage: "en", Nonce: bytes.Repeat([]byte{7}, 16), LocalSessionID: 1, RemoteSessionID: 2,
		AssignedCookie: []byte{0, 0, 0xd7, 0x47}, RemoteEndID: []byte("1"), PWType: PWEthernet,
		L2SpecificSublyr: L2SSDefault, DataSequencing: DataSeqAll, CircuitStatus: CircuitStatus{Active: true, New: true},
		SerialNumber: 77, PhysicalChannelID: 3, CircuitErrors: CallErrors{CRC: 1, Framing: 2, HardwareOverruns: 3, BufferOverruns: 4, Timeout: 5, Alignment: 6},
		TxConnectSpeed: 1 << 40, RxConnectSpeed: 1e9,
		RandomVector: []byte("rv"),
		Digests:      []MessageDigest{{Type: DigestHMACMD5, Digest: make([]byte, 16)}, {Type: DigestHMACSHA1, Digest: make([]byte, 20)}}}
	for _, a := range v3Order {
		m.Set(a)
	}
	m.Set(AVPMessageType)
	return m
}

func TestV3MessageRoundTrip(t *testing.T) {
	for _, typ := range []MsgType{MsgSCCRQ, MsgICRQ, MsgSLI, MsgWEN, MsgCDN, MsgACK} {
		m := fullV3(typ)
		b, err := m.AppendAVPs(nil)
		if err != nil {
			t.Fatal(err)
		}
		var d V3Message
		if err := d.Decode(b, nil); err != nil {
			t.Fatalf("%v: %v", typ.V3String(), err)
		}
		if !reflect.DeepEqual(d, m) {
			t.Fatalf("%v round trip\n got %+v\nwant %+v", typ.V3String(), d, m)
		}
	}
}

func TestV3MessageBad(t *testing.T) {
	enc := func(f func(e *AVPEncoder)) []byte {
		e := NewAVPEncoder(nil)
		f(e)
		b, _ := e.Bytes()
		return b
	}
	mt := func(e *AVPEncoder, t MsgType) { e.Uint16(true, AVPMessageType, uint16(t)) }
	sli := func(e *AVPEncoder) {
		mt(e, MsgSLI)
		e.Uint32(true, AVPLocalSessionID, 1)
		e.Uint32(true, AVPRemoteSessionID, 2)
	}
	for _, tc := range []struct {
		name string
		body []byte
		err  error
	}{
		{"empty", nil, ErrNoMessageType},
		{"first-not-type", enc(func(e *AVPEncoder) { e.Uint32(true, AVPRouterID, 1) }), ErrNoMessageType},
		{"unknown-msg-mandatory", enc(func(e *AVPEncoder) { mt(e, 99) }), ErrUnknownMandatory},
		{"type-5-is-not-v3", enc(func(e *AVPEncoder) { mt(e, 5) }), ErrUnknownMsg},
		{"unknown-mandatory-avp", enc(func(e *AVPEncoder) { sli(e); e.Uint16(true, 200, 1) }), ErrUnknownMandatory},
		{"v2-only-mandatory-avp", enc(func(e *AVPEncoder) { sli(e); e.Uint16(true, AVPAssignedTunnelID, 1) }), ErrUnknownMandatory},
		{"vendor-mandatory", enc(func(e *AVPEncoder) { sli(e); e.Raw(true, 9, 1, []byte{1}) }), ErrUnknownMandatory},
		{"missing-remote-session", enc(func(e *AVPEncoder) { mt(e, MsgSLI); e.Uint32(true, AVPLocalSessionID, 1) }), ErrMissingAVP},
		{"session-id-short", enc(func(e *AVPEncoder) { sli(e); e.Uint16(true, AVPLocalSessionID, 1) }), ErrAVPLength},
		{"cookie-3", enc(func(e *AVPEncoder) { sli(e); e.Octets(true, AVPAssignedCookie, []byte{1, 2, 3}) }), ErrCookieLen},
		{"pwcaps-odd", enc(func(e *AVPEncoder) { sli(e); e.Octets(true, AVPPWCapabilities, []byte{0, 5, 0}) }), ErrAVPLength},
		{"digest-type", enc(func(e *AVPEncoder) { sli(e); e.Octets(true, AVPMessageDigest, make([]byte, 17)) }), nil},
		{"digest-bad-type", enc(func(e *AVPEncoder) { sli(e); e.Octets(true, AVPMessageDigest, append([]byte{7}, make([]byte, 16)...)) }), ErrV3Value},
		{"digest-bad-len", enc(func(e *AVPEncoder) { sli(e); e.Octets(true, AVPMessageDigest, append([]byte{1}, make([]byte, 16)...)) }), ErrAVPLength},
		{"data-seq-3", enc(func(e *AVPEncoder) { sli(e); e.Uint16(true, AVPDataSequencing, 3) }), ErrV3Value},
		{"speed-short", enc(func(e *AVPEncoder) { sli(e); e.Uint32(false, AVPTxConnectSpeedV3, 3) }), ErrAVPLength},
		{"empty-nonce", enc(func(e *AVPEncoder) { sli(e); e.Octets(true, AVPCtlMsgAuthNonce, nil) }), ErrAVPLength},
		{"hidden-without-rv", enc(func(e *AVPEncoder) {
			sli(e)
			e.SetHiding([]byte("s"), []byte("r"), nil)
			e.Hidden(true, AVPRemoteEndID, []byte("x"))
		}), ErrNoRandomVector},
		{"sccrq-ccid-0", enc(func(e *AVPEncoder) {
			mt(e, MsgSCCRQ)
			e.Text(true, AVPHostName, "h")
			e.Uint32(true, AVPRouterID, 1)
			e.Uint32(true, AVPAssignedCCID, 0)
			e.Uint16(true, AVPPWCapabilities, 5)
		}), ErrZeroID},
		{"icrq-local-0", enc(func(e *AVPEncoder) {
			mt(e, MsgICRQ)
			e.Uint32(true, AVPLocalSessionID, 0)
			e.Uint32(true, AVPRemoteSessionID, 0)
			e.Uint32(true, AVPSerialNumber, 1)
			e.Uint16(true, AVPPWType, 5)
		}), ErrZeroID},
		{"truncated-avp", append(enc(func(e *AVPEncoder) { mt(e, MsgHELLO) }), 0x80, 0x08), ErrAVPLength},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m V3Message
			err := m.Decode(tc.body, nil)
			if tc.err == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("got %v, want %v", err, tc.err)
			}
		})
	}
	// The unknown mandatory AVP is reported with the result code RFC
	// 3931 §5.2 asks for (RFC 2661's 2/8), after the rest was parsed.
	var m V3Message
	err := m.Decode(enc(func(e *AVPEncoder) { sli(e); e.Uint16(true, 200, 1) }), nil)
	if r := ResultFor(err); r.Error != ErrCodeUnknownMandatory || m.LocalSessionID != 1 || m.RemoteSessionID != 2 {
		t.Fatalf("%+v %+v", r, m)
	}
	// Unknown optional and vendor AVPs are skipped and counted.
	if err := m.Decode(enc(func(e *AVPEncoder) { sli(e); e.Uint16(false, 200, 1); e.Raw(false, 9, 1, nil) }), nil); err != nil || m.UnknownOptional != 1 || m.Vendor != 1 {
		t.Fatalf("%v %+v", err, m)
	}
}

func TestV3Hidden(t *testing.T) {
	e := NewAVPEncoder(nil)
	e.Uint16(true, AVPMessageType, uint16(MsgICRQ))
	rv := []byte("0123456789abcdef")
	e.Octets(true, AVPRandomVector, rv)
	e.SetHiding([]byte("secret"), rv, nil)
	e.Hidden(true, AVPAssignedCookie, []byte{1, 2, 3, 4})
	e.Uint32(true, AVPLocalSessionID, 5)
	e.Uint32(true, AVPRemoteSessionID, 0)
	e.Uint32(true, AVPSerialNumber, 1)
	e.Uint16(true, AVPPWType, uint16(PWEthernet))
	b, _ := e.Bytes()
	var m V3Message
	if err := m.Decode(b, []byte("secret")); err != nil || !bytes.Equal(m.AssignedCookie, []byte{1, 2, 3, 4}) {
		t.Fatalf("%v %x", err, m.AssignedCookie)
	}
}

func TestV3Names(t *testing.T) {
	if AVPRouterID.V3Name() != "Router ID" || AVPSerialNumber.V3Name() != "Serial Number" || MsgACK.V3String() != "ACK" ||
		PWEthernetVLAN.String() != "Ethernet VLAN" || PWType(0x99).String() != "PW(153)" || AVPHostName.V3Name() != "Host Name" {
		t.Fatal("names")
	}
	// v2's space is unchanged: v3 types stay unknown to RFC 2661 decoding.
	if AVPRouterID.Known() || !AVPRouterID.KnownV3() || AVPAssignedTunnelID.KnownV3() || MsgACK.Known() {
		t.Fatal("v2 and v3 spaces mixed")
	}
}
