package l2tp

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	s = strings.Join(strings.Fields(s), "")
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Fixtures built by hand from RFC 2661 §3.1, §4.1 and §6, with AVPs in type
// order and M bits as the RFC defines them, so they round-trip byte for
// byte through Append.
var (
	// SCCRQ from a LAC "LAC", tunnel 0x206f, window 4 (§6.1).
	fixSCCRQ = `c802 005b 0000 0000 0000 0000
		8008 0000 0000 0001
		8008 0000 0002 0100
		800a 0000 0003 00000003
		800a 0000 0004 00000000
		0008 0000 0006 0690
		8009 0000 0007 4c4143
		000a 0000 0008 7670646e
		8008 0000 0009 206f
		8008 0000 000a 0004`
	// StopCCN to tunnel 0x206f: result 2, error 8, "unknown AVP" (§6.4).
	fixStopCCN = `c802 0031 206f 0000 0003 0002
		8008 0000 0000 0004
		8015 0000 0001 0002 0008 756e6b6e6f776e20415650
		8008 0000 0009 3073`
	// ICRQ on tunnel 0x3073: session 0x754c, serial 1, calling "5551234" (§6.10).
	fixICRQ = `c802 003d 3073 0000 0001 0001
		8008 0000 0000 000a
		8008 0000 000e 754c
		800a 0000 000f 00000001
		800a 0000 0012 00000001
		800d 0000 0016 35353531323334`
	// ICCN with Sequencing Required and proxy PAP (§6.12).
	fixICCN = `c802 0049 3073 0005 0002 0002
		8008 0000 0000 000c
		800a 0000 0013 00000001
		800a 0000 0018 05f5e100
		0008 0000 001d 0003
		000a 0000 001e 75736572
		0009 0000 0021 707764
		8006 0000 0027`
	// CDN with a Q.931 cause (§6.13).
	fixCDN = `c802 002f 3073 0005 0003 0003
		8008 0000 0000 000e
		800a 0000 0001 0003 0000
		8009 0000 000c 0010 02
		8008 0000 000e 754c`
	fixZLB = `c802 000c 3073 0000 0004 0003`
	// SLI and WEN (§6.15, §6.14).
	fixSLI = `c802 0024 3073 0005 0005 0003
		8008 0000 0000 0010
		8010 0000 0023 0000 ffffffff 00000000`
	fixWEN = `c802 0034 3073 0005 0006 0003
		8008 0000 0000 000f
		8020 0000 0022 0000 00000001 00000002 00000003 00000004 00000005 00000006`
)

func TestDecodeFixtures(t *testing.T) {
	cases := []struct {
		name  string
		hex   string
		check func(t *testing.T, h Header, m *Message)
	}{
		{"SCCRQ", fixSCCRQ, func(t *testing.T, h Header, m *Message) {
			if m.Type != MsgSCCRQ || m.HostName != "LAC" || m.AssignedTunnelID != 0x206f || m.RecvWindowSize != 4 ||
				m.FramingCaps != 3 || m.ProtocolVersion != 1 || m.FirmwareRevision != 0x0690 || m.VendorName != "vpdn" {
				t.Errorf("bad SCCRQ: %+v", m)
			}
			if !m.Has(AVPBearerCapabilities) || m.Has(AVPChallenge) {
				t.Error("presence wrong")
			}
		}},
		{"StopCCN", fixStopCCN, func(t *testing.T, h Header, m *Message) {
			if h.TunnelID != 0x206f || h.Ns != 3 || h.Nr != 2 {
				t.Errorf("header %+v", h)
			}
			want := Result{Code: 2, Error: 8, HasError: true, Message: "unknown AVP"}
			if m.Result != want || m.AssignedTunnelID != 0x3073 {
				t.Errorf("got %+v", m.Result)
			}
		}},
		{"ICRQ", fixICRQ, func(t *testing.T, h Header, m *Message) {
			if m.AssignedSessionID != 0x754c || m.CallSerialNumber != 1 || m.CallingNumber != "5551234" || m.BearerType != 1 {
				t.Errorf("got %+v", m)
			}
		}},
		{"ICCN", fixICCN, func(t *testing.T, h Header, m *Message) {
			if h.SessionID != 5 || m.TxConnectSpeed != 100000000 || m.ProxyAuthType != ProxyAuthPAP ||
				m.ProxyAuthName != "user" || string(m.ProxyAuthResponse) != "pwd" || !m.Has(AVPSequencingRequired) {
				t.Errorf("got %+v", m)
			}
		}},
		{"CDN", fixCDN, func(t *testing.T, h Header, m *Message) {
			if m.Result.Code != CDNAdmin || !m.Result.HasError || m.Q931.Cause != 16 || m.Q931.Msg != 2 {
				t.Errorf("got %+v", m)
			}
		}},
		{"SLI", fixSLI, func(t *testing.T, h Header, m *Message) {
			if m.ACCM != (ACCM{Send: 0xffffffff}) {
				t.Errorf("got %+v", m.ACCM)
			}
		}},
		{"WEN", fixWEN, func(t *testing.T, h Header, m *Message) {
			if m.CallErrors != (CallErrors{1, 2, 3, 4, 5, 6}) {
				t.Errorf("got %+v", m.CallErrors)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := unhex(t, c.hex)
			h, err := ParseHeader(b)
			if err != nil {
				t.Fatal(err)
			}
			if !h.IsControl() || int(h.Length) != len(b) {
				t.Fatalf("header %+v, len %d", h, len(b))
			}
			var m Message
			if err := m.Decode(h.Payload(b), nil); err != nil {
				t.Fatal(err)
			}
			c.check(t, h, &m)
			out, err := m.Append(nil, h.TunnelID, h.SessionID, h.Ns, h.Nr, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, b) {
				t.Errorf("re-encoded\n%x\nwant\n%x", out, b)
			}
		})
	}
}

func TestZLB(t *testing.T) {
	b := unhex(t, fixZLB)
	h, err := ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Payload(b)) != 0 || h.Ns != 4 || h.Nr != 3 {
		t.Fatalf("%+v", h)
	}
	if got := AppendZLB(nil, 0x3073, 4, 3); !bytes.Equal(got, b) {
		t.Errorf("AppendZLB = %x", got)
	}
}

func TestDecodeBad(t *testing.T) {
	cases := []struct {
		name string
		hex  string
		want error
	}{
		{"short header", "c802 000c 3073", ErrShort},
		{"length beyond datagram", "c802 0020 3073 0000 0004 0003", ErrShort},
		{"control without S", "c002 000c 3073 0000 0004 0003", ErrBadHeader},
		{"control with O", "ca02 000c 3073 0000 0004 0003", ErrBadHeader},
		{"version 1 (L2F)", "c801 000c 3073 0000 0004 0003", ErrVersion},
		{"version 3", "c803 000c 0000 3073 0004 0003", ErrVersion3},
		{"first AVP not message type", "c802 0014 0000 0000 0000 0000 8008 0000 0009 206f", ErrNoMessageType},
		{"AVP length below 6", "c802 0014 0000 0000 0000 0000 8004 0000 0000 0001", ErrAVPLength},
		{"AVP length past end", "c802 001a 0000 0000 0000 0000 8008 0000 0000 0006 8010 0000 0009", ErrAVPLength},
		{"truncated AVP header", "c802 0017 0000 0000 0000 0000 8008 0000 0000 0006 8010 00", ErrAVPLength},
		{"unknown mandatory", "c802 001b 0000 0000 0000 0000 8008 0000 0000 0006 8007 0000 0063 00", ErrUnknownMandatory},
		{"unknown mandatory vendor", "c802 001b 0000 0000 0000 0000 8008 0000 0000 0006 8007 0009 0001 00", ErrUnknownMandatory},
		{"unknown mandatory message", "c802 0014 0000 0000 0000 0000 8008 0000 0000 0063", ErrUnknownMandatory},
		{"SCCRQ missing host name", "c802 0014 0000 0000 0000 0000 8008 0000 0000 0001", ErrMissingAVP},
		{"bad tunnel id length", "c802 0025 0000 0000 0000 0000 8008 0000 0000 0004 8009 0000 0009 2030 40 8008 0000 0001 0001", ErrAVPLength},
		{"result code 3 octets", "c802 0025 0000 0000 0000 0000 8008 0000 0000 0004 8009 0000 0001 000100 8008 0000 0009 0001", ErrAVPLength},
		{"hidden without secret", "c802 0028 0000 0000 0000 0000 8008 0000 0000 0006 800a 0000 0024 01020304 c00a 0000 0007 01020304", ErrHidden},
		{"hidden without random vector", "c802 001e 0000 0000 0000 0000 8008 0000 0000 0006 c00a 0000 0007 01020304", ErrHidden},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := unhex(t, c.hex)
			h, err := ParseHeader(b)
			if err == nil {
				var m Message
				err = m.Decode(h.Payload(b), nil)
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if errors.Is(err, ErrUnknownMandatory) {
				r := ResultFor(err)
				if r.Code != StopGeneralError || r.Error != ErrCodeUnknownMandatory {
					t.Errorf("ResultFor = %+v, want 2/8 (§4.1)", r)
				}
			}
		})
	}
}

func TestUnknownOptionalSkipped(t *testing.T) {
	var m Message
	m.Type = MsgHELLO
	b, _ := m.Append(nil, 1, 0, 0, 0, nil)
	e := NewAVPEncoder(b)
	e.Raw(false, 0, 99, []byte{1, 2, 3})
	e.Raw(false, 9, 1, []byte{1})
	b, _ = e.Bytes()
	if err := FinishControl(b); err != nil {
		t.Fatal(err)
	}
	h, err := ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Decode(h.Payload(b), nil); err != nil {
		t.Fatal(err)
	}
	if m.UnknownOptional != 1 || m.Vendor != 1 {
		t.Errorf("unknown=%d vendor=%d", m.UnknownOptional, m.Vendor)
	}
}

// naiveHide is an independent model of §4.3, written from the RFC text.
func naiveHide(t AVPType, secret, rv, value []byte) []byte {
	sub := binary.BigEndian.AppendUint16(nil, uint16(len(value)))
	sub = append(sub, value...)
	var out []byte
	var prev []byte
	for i := 0; i < len(sub); i += 16 {
		var in []byte
		if i == 0 {
			in = append(binary.BigEndian.AppendUint16(nil, uint16(t)), secret...)
			in = append(in, rv...)
		} else {
			in = append(append([]byte(nil), secret...), prev...)
		}
		k := md5.Sum(in)
		end := min(i+16, len(sub))
		c := make([]byte, end-i)
		for j := range c {
			c[j] = sub[i+j] ^ k[j]
		}
		prev = c
		out = append(out, c...)
	}
	return out
}

func TestHiding(t *testing.T) {
	secret := []byte("cisco123")
	rv := unhex(t, "0102030405060708090a0b0c0d0e0f10")
	for _, n := range []int{0, 1, 13, 14, 15, 30, 31, 64, 200} {
		val := bytes.Repeat([]byte{'x'}, n)
		e := NewAVPEncoder(nil)
		e.SetHiding(secret, rv, nil)
		e.Hidden(false, AVPProxyAuthenResponse, val)
		b, err := e.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if want := naiveHide(AVPProxyAuthenResponse, secret, rv, val); !bytes.Equal(b[6:], want) {
			t.Fatalf("n=%d: hidden %x, model %x", n, b[6:], want)
		}
		got, err := Unhide(AVPProxyAuthenResponse, secret, rv, b[6:], nil)
		if err != nil || !bytes.Equal(got, val) {
			t.Fatalf("n=%d: unhide %q %v", n, got, err)
		}
	}
}

func TestHiddenMessageRoundTrip(t *testing.T) {
	secret := []byte("s3cret")
	m := Message{Type: MsgICCN, TxConnectSpeed: 1e6, FramingType: FramingSync,
		ProxyAuthType: ProxyAuthCHAP, ProxyAuthName: "alice", ProxyAuthChallenge: []byte("0123456789abcdef"),
		ProxyAuthID: 7, ProxyAuthResponse: bytes.Repeat([]byte{0xaa}, 16),
		Hide: []AVPType{AVPProxyAuthenName, AVPProxyAuthenChallenge, AVPProxyAuthenResponse}}
	m.Set(AVPTxConnectSpeed, AVPFramingType, AVPProxyAuthenType, AVPProxyAuthenName, AVPProxyAuthenChallenge, AVPProxyAuthenID, AVPProxyAuthenResponse)
	pad := func(n int) []byte { return bytes.Repeat([]byte{0x5a}, n) }
	b, err := m.Append(nil, 1, 2, 3, 4, &Hiding{Secret: secret, RandomVector: []byte("randomvector1234"), Pad: pad})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("alice")) {
		t.Fatal("name sent in clear")
	}
	h, _ := ParseHeader(b)
	var got Message
	if err := got.Decode(h.Payload(b), secret); err != nil {
		t.Fatal(err)
	}
	if got.ProxyAuthName != "alice" || !bytes.Equal(got.ProxyAuthResponse, m.ProxyAuthResponse) ||
		!bytes.Equal(got.ProxyAuthChallenge, m.ProxyAuthChallenge) || got.ProxyAuthID != 7 {
		t.Fatalf("got %+v", got)
	}
	var wrong Message
	if err := wrong.Decode(h.Payload(b), []byte("other")); err == nil && wrong.ProxyAuthName == "alice" {
		t.Fatal("wrong secret revealed the name")
	}
}

func TestChallengeResponse(t *testing.T) {
	// §4.2: MD5(CHAP ID = message type, secret, challenge).
	ch := []byte("challenge-octets")
	got := ChallengeResponse(MsgSCCRP, []byte("pw"), ch)
	want := md5.Sum(append(append([]byte{2}, "pw"...), ch...))
	if got != want {
		t.Fatal("challenge response differs from the model")
	}
}

func TestAllMessagesRoundTrip(t *testing.T) {
	for typ := MsgType(0); typ < 20; typ++ {
		if !typ.Known() {
			continue
		}
		m := Message{Type: typ, HostName: "h", Challenge: []byte{1}, ChallengeResponse: make([]byte, 16),
			Result: Result{Code: 1}, CalledNumber: "1", RandomVector: []byte{9}, AssignedTunnelID: 3, AssignedSessionID: 4}
		m.set = requiredAVPs[typ]
		b, err := m.Append(nil, 7, 8, 1, 2, nil)
		if err != nil {
			t.Fatal(err)
		}
		h, err := ParseHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		var got Message
		if err := got.Decode(h.Payload(b), nil); err != nil {
			t.Fatalf("%v: %v", typ, err)
		}
		if got.Type != typ || got.set != m.set {
			t.Fatalf("%v: set %b want %b", typ, got.set, m.set)
		}
	}
}

func TestNames(t *testing.T) {
	if MsgSCCRQ.String() != "SCCRQ" || MsgType(5).String() != "MSG(5)" || AVPHostName.String() != "Host Name" {
		t.Error("names")
	}
	if StopCCNResultText(StopNotAuthorized) != "Requester is not authorized to establish a control channel" {
		t.Error("result 4 text")
	}
	r := Result{Code: 2, Error: 8, HasError: true}
	if !strings.Contains(r.Text(MsgStopCCN), "unknown AVP with the M-bit") {
		t.Error(r.Text(MsgStopCCN))
	}
}

func TestMessageFieldsCovered(t *testing.T) {
	// Every known AVP type has a decoder and an encoder: encode a message
	// with all of them set and decode it back field for field.
	m := Message{Type: MsgICCN, Result: Result{Code: 2, Error: 3, HasError: true, Message: "m"},
		ProtocolVersion: 1, FramingCaps: 3, BearerCaps: 3, TieBreaker: [8]byte{1, 2, 3, 4, 5, 6, 7, 8},
		FirmwareRevision: 5, HostName: "h", VendorName: "v", AssignedTunnelID: 9, RecvWindowSize: 10,
		Challenge: []byte{1, 2}, ChallengeResponse: bytes.Repeat([]byte{3}, 16), Q931: Q931{1, 2, "adv"},
		AssignedSessionID: 11, CallSerialNumber: 12, MinBPS: 13, MaxBPS: 14, BearerType: 1, FramingType: 2,
		CalledNumber: "c", CallingNumber: "d", SubAddress: "e", TxConnectSpeed: 15, RxConnectSpeed: 16,
		PhysicalChannelID: 17, PrivateGroupID: []byte("g"), InitialRecvLCP: []byte{1}, LastSentLCP: []byte{2},
		LastRecvLCP: []byte{3}, ProxyAuthType: 2, ProxyAuthName: "n", ProxyAuthChallenge: []byte{4},
		ProxyAuthID: 5, ProxyAuthResponse: []byte{6}, CallErrors: CallErrors{1, 2, 3, 4, 5, 6},
		ACCM: ACCM{7, 8}, RandomVector: []byte{9, 9}}
	for t := AVPType(0); t <= maxKnownAVP; t++ {
		if t.Known() {
			m.Set(t)
		}
	}
	b, err := m.Append(nil, 1, 1, 1, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := ParseHeader(b)
	var got Message
	if err := got.Decode(h.Payload(b), nil); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("got  %+v\nwant %+v", got, m)
	}
}

// Real messages captured from an openl2tp/prol2tp peer (as published in
// the go-l2tp test data): a v2 HELLO and an L2TPv3 SCCRQ, which the v2
// parser must recognise and hand off (RFC 3931 shares the header start).
var (
	realHELLO   = "c802 0014 0001 0000 0001 0001 8008 0000 0000 0006"
	realV3SCCRQ = `c803 007c 0000 0000 0000 0000 8008 0000 0000 0001 800c 0000 0007 6f70656e7633
		0034 0000 0008 70726f6c327470 20312e372e33 204c696e75782d332e31332e302d33302d67656e6572696320 2878 38365f363429
		8008 0000 000a 000a 000a 0000 003c 0000 0000 000a 0000 003d 2846f181 000c 0000 003e 0007 0005 0004`
)

func TestRealMessages(t *testing.T) {
	b := unhex(t, realHELLO)
	h, err := ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	var m Message
	if err := m.Decode(h.Payload(b), nil); err != nil || m.Type != MsgHELLO || h.Ns != 1 || h.Nr != 1 || h.TunnelID != 1 {
		t.Fatalf("HELLO: %v %+v %+v", err, h, m)
	}

	b = unhex(t, realV3SCCRQ)
	if v, _ := Version(b); v != Version3 {
		t.Fatalf("version %d", v)
	}
	if _, err := ParseHeader(b); !errors.Is(err, ErrVersion3) {
		t.Fatalf("ParseHeader: %v", err)
	}
	// The AVP layer is shared by L2TPv3 (RFC 3931 §5.1): the iterator
	// walks the v3 SCCRQ, including its v3-only attribute types.
	d := NewAVPDecoder(b[12:])
	var types []AVPType
	var vendor string
	for d.Next() {
		a := d.AVP()
		types = append(types, a.Type)
		if a.Type == AVPVendorName {
			vendor = string(a.Value)
		}
	}
	if d.Err() != nil || len(types) != 7 || vendor != "prol2tp 1.7.3 Linux-3.13.0-30-generic (x86_64)" {
		t.Fatalf("v3 AVPs %v %q %v", types, vendor, d.Err())
	}
}

// TestMustBeNonZero: the RFC 2661 §6 messages with an AVP that must be
// present, or non-zero, are refused with the error the FSM maps to a
// result code.
func TestMustBeNonZero(t *testing.T) {
	sccrq := func(f func(m *Message)) *Message {
		m := &Message{Type: MsgSCCRQ, ProtocolVersion: 1, HostName: "h", FramingCaps: 3, AssignedTunnelID: 9}
		m.Set(AVPProtocolVersion, AVPHostName, AVPFramingCapabilities, AVPAssignedTunnelID)
		f(m)
		return m
	}
	call := func(typ MsgType, f func(m *Message)) *Message {
		m := &Message{Type: typ, AssignedSessionID: 9, CallSerialNumber: 1, CalledNumber: "1"}
		m.set = requiredAVPs[typ]
		f(m)
		return m
	}
	for _, tc := range []struct {
		name string
		m    *Message
		want error
		avp  AVPType
		res  Result
	}{
		{"SCCRQ tunnel ID 0", sccrq(func(m *Message) { m.AssignedTunnelID = 0 }), ErrZeroID, AVPAssignedTunnelID, Result{Code: 2, Error: 3, HasError: true}},
		{"SCCRP tunnel ID 0", func() *Message { m := sccrq(func(m *Message) { m.AssignedTunnelID = 0 }); m.Type = MsgSCCRP; return m }(), ErrZeroID, AVPAssignedTunnelID, Result{Code: 2, Error: 3, HasError: true}},
		{"SCCRQ no framing", sccrq(func(m *Message) { m.Clear(AVPFramingCapabilities) }), ErrMissingAVP, AVPFramingCapabilities, Result{Code: 2, Error: 3, HasError: true}},
		{"SCCRQ no host name", sccrq(func(m *Message) { m.Clear(AVPHostName) }), ErrMissingAVP, AVPHostName, Result{Code: 2, Error: 3, HasError: true}},
		{"SCCRQ no version", sccrq(func(m *Message) { m.Clear(AVPProtocolVersion) }), ErrMissingAVP, AVPProtocolVersion, Result{Code: 2, Error: 3, HasError: true}},
		{"SCCRQ window 0", sccrq(func(m *Message) { m.Set(AVPReceiveWindowSize) }), ErrZeroWindow, AVPReceiveWindowSize, Result{Code: 2, Error: 3, HasError: true}},
		{"ICRQ session ID 0", call(MsgICRQ, func(m *Message) { m.AssignedSessionID = 0 }), ErrZeroID, AVPAssignedSessionID, Result{Code: 2, Error: 5, HasError: true}},
		{"ICRQ no serial", call(MsgICRQ, func(m *Message) { m.Clear(AVPCallSerialNumber) }), ErrMissingAVP, AVPCallSerialNumber, Result{Code: 2, Error: 3, HasError: true}},
		{"ICRP session ID 0", call(MsgICRP, func(m *Message) { m.AssignedSessionID = 0 }), ErrZeroID, AVPAssignedSessionID, Result{Code: 2, Error: 5, HasError: true}},
		{"OCRQ session ID 0", call(MsgOCRQ, func(m *Message) { m.AssignedSessionID = 0 }), ErrZeroID, AVPAssignedSessionID, Result{Code: 2, Error: 5, HasError: true}},
		{"OCRP session ID 0", call(MsgOCRP, func(m *Message) { m.AssignedSessionID = 0 }), ErrZeroID, AVPAssignedSessionID, Result{Code: 2, Error: 5, HasError: true}},
		{"CDN session ID 0 allowed", call(MsgCDN, func(m *Message) { m.AssignedSessionID = 0; m.Result = Result{Code: 4} }), nil, 0, Result{}},
	} {
		b, err := tc.m.Append(nil, 1, 0, 0, 0, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		h, _ := ParseHeader(b)
		var got Message
		err = got.Decode(h.Payload(b), nil)
		if tc.want == nil {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		var ae *AVPError
		if !errors.Is(err, tc.want) || !errors.As(err, &ae) || ae.Type != tc.avp {
			t.Errorf("%s: %v, want %v on %v", tc.name, err, tc.want, tc.avp)
			continue
		}
		if r := ResultFor(err); r.Code != tc.res.Code || r.Error != tc.res.Error {
			t.Errorf("%s: result %d/%d, want %d/%d", tc.name, r.Code, r.Error, tc.res.Code, tc.res.Error)
		}
	}
}
