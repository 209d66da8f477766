package pptp

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// text is the hex of s in an n-octet NUL-padded field.
func text(s string, n int) string {
	return hex.EncodeToString([]byte(s)) + strings.Repeat("00", n-len(s))
}

// Fixtures assembled by hand from the layouts of RFC 2637 §2.1 to §2.15:
// the 12-octet header (Length, Message Type 1, Magic Cookie 1a2b3c4d,
// Control Message Type, Reserved0), then the body field by field.
var (
	fixSCCRQ = "009c 0001 1a2b3c4d 0001 0000" +
		"0100 0000 00000001 00000001 0000 0a01" + // version 1.0, async, analog, 0 channels, firmware
		text("pns.example", 64) + text("vpdn", 64)
	fixSCCRP = "009c 0001 1a2b3c4d 0002 0000" +
		"0100 01 00 00000003 00000003 0800 0001" + // success, both framings and bearers, 2048 channels
		text("pac", 64) + text("Cisco Systems, Inc.", 64)
	fixStopCCRQ = "0010 0001 1a2b3c4d 0003 0000 03 00 0000"
	fixStopCCRP = "0010 0001 1a2b3c4d 0004 0000 01 00 0000"
	fixEchoRQ   = "0010 0001 1a2b3c4d 0005 0000 deadbeef"
	fixEchoRP   = "0014 0001 1a2b3c4d 0006 0000 deadbeef 02 04 0000"
	fixOCRQ     = "00a8 0001 1a2b3c4d 0007 0000" +
		"1234 0007 0000012c 05f5e100 00000003 00000003 0040 0000" + // call 0x1234, serial 7, 300..100M bps, window 64
		"0007 0000" + text("5551234", 64) + text("", 64)
	fixOCRP = "0020 0001 1a2b3c4d 0008 0000" +
		"4321 1234 01 00 0000 05f5e100 0010 0000 00000000"
	fixICRQ = "00dc 0001 1a2b3c4d 0009 0000" +
		"4321 0001 00000002 00000009 0004 0007" + // call, serial 1, digital, channel 9, lengths 4 and 7
		text("1000", 64) + text("5551234", 64) + text("sub", 64)
	fixICRP = "0018 0001 1a2b3c4d 000a 0000 1234 4321 01 00 0040 0000 0000"
	fixICCN = "001c 0001 1a2b3c4d 000b 0000 1234 0000 05f5e100 0010 0000 00000001"
	fixCCRQ = "0010 0001 1a2b3c4d 000c 0000 1234 0000"
	fixCDN  = "0094 0001 1a2b3c4d 000d 0000 4321 03 00 0010 0000" + text("rx 10 tx 12", 128)
	fixWEN  = "0028 0001 1a2b3c4d 000e 0000 1234 0000 00000001 00000002 00000003 00000004 00000005 00000006"
	fixSLI  = "0018 0001 1a2b3c4d 000f 0000 4321 0000 ffffffff 00000000"
)

var fixtures = []struct {
	name string
	hex  string
	want Message
}{
	{"SCCRQ", fixSCCRQ, &SCCRQ{ProtocolVersion: ProtocolVersion, FramingCaps: FramingAsync, BearerCaps: BearerAnalog,
		FirmwareRevision: 0x0a01, HostName: "pns.example", VendorName: "vpdn"}},
	{"SCCRP", fixSCCRP, &SCCRP{ProtocolVersion: ProtocolVersion, Result: SCCRPSuccess, FramingCaps: 3, BearerCaps: 3,
		MaxChannels: 2048, FirmwareRevision: 1, HostName: "pac", VendorName: "Cisco Systems, Inc."}},
	{"StopCCRQ", fixStopCCRQ, &StopCCRQ{Reason: StopLocalShutdown}},
	{"StopCCRP", fixStopCCRP, &StopCCRP{Result: StopOK}},
	{"Echo-Request", fixEchoRQ, &EchoRequest{ID: 0xdeadbeef}},
	{"Echo-Reply", fixEchoRP, &EchoReply{ID: 0xdeadbeef, Result: EchoGeneralError, Error: ErrorNoResource}},
	{"OCRQ", fixOCRQ, &OCRQ{CallID: 0x1234, CallSerial: 7, MinBPS: 300, MaxBPS: 100000000, BearerType: 3, FramingType: 3,
		RecvWindow: 64, PhoneNumber: "5551234"}},
	{"OCRP", fixOCRP, &OCRP{CallID: 0x4321, PeerCallID: 0x1234, Result: OCRPConnected, ConnectSpeed: 100000000, RecvWindow: 16}},
	{"ICRQ", fixICRQ, &ICRQ{CallID: 0x4321, CallSerial: 1, BearerType: BearerDigital, PhysicalChannelID: 9,
		DialedNumber: "1000", DialingNumber: "5551234", SubAddress: "sub"}},
	{"ICRP", fixICRP, &ICRP{CallID: 0x1234, PeerCallID: 0x4321, Result: ICRPConnect, RecvWindow: 64}},
	{"ICCN", fixICCN, &ICCN{PeerCallID: 0x1234, ConnectSpeed: 100000000, RecvWindow: 16, FramingType: FramingAsync}},
	{"CCRQ", fixCCRQ, &CCRQ{CallID: 0x1234}},
	{"CDN", fixCDN, &CDN{CallID: 0x4321, Result: CDNAdminShutdown, Cause: 16, CallStatistics: "rx 10 tx 12"}},
	{"WEN", fixWEN, &WEN{PeerCallID: 0x1234, CRCErrors: 1, FramingErrors: 2, HardwareOverruns: 3, BufferOverruns: 4,
		TimeoutErrors: 5, AlignmentErrors: 6}},
	{"SLI", fixSLI, &SLI{PeerCallID: 0x4321, SendACCM: 0xffffffff}},
}

// TestFixtures: every message of §2 parses to the expected fields and
// encodes back to the same octets.
func TestFixtures(t *testing.T) {
	seen := map[MsgType]bool{}
	for _, c := range fixtures {
		t.Run(c.name, func(t *testing.T) {
			b := unhex(t, c.hex)
			if len(b) != c.want.Type().Len() {
				t.Fatalf("fixture is %d octets, %v is %d", len(b), c.want.Type(), c.want.Type().Len())
			}
			m, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m, c.want) {
				t.Fatalf("parsed\n%+v\nwant\n%+v", m, c.want)
			}
			if m.Type().String() != c.name {
				t.Fatalf("type %v", m.Type())
			}
			out, err := Append([]byte{0xee}, c.want)
			if err != nil {
				t.Fatal(err)
			}
			if out[0] != 0xee || !bytes.Equal(out[1:], b) {
				t.Fatalf("encoded\n%x\nwant\n%x", out[1:], b)
			}
			seen[m.Type()] = true
		})
	}
	for ty := MsgSCCRQ; ty <= MsgSLI; ty++ {
		if !seen[ty] {
			t.Errorf("no fixture for %v", ty)
		}
	}
}

// TestLengths: the fixed lengths of §2.1 to §2.15, and every zero message
// encodes to its length.
func TestLengths(t *testing.T) {
	want := map[MsgType]int{MsgSCCRQ: 156, MsgSCCRP: 156, MsgStopCCRQ: 16, MsgStopCCRP: 16, MsgEchoRQ: 16,
		MsgEchoRP: 20, MsgOCRQ: 168, MsgOCRP: 32, MsgICRQ: 220, MsgICRP: 24, MsgICCN: 28, MsgCCRQ: 16,
		MsgCDN: 148, MsgWEN: 40, MsgSLI: 24}
	for ty, n := range want {
		if ty.Len() != n {
			t.Errorf("%v.Len() = %d, want %d", ty, ty.Len(), n)
		}
		m := newMessage(ty)
		b, err := Append(nil, m)
		if err != nil || len(b) != n {
			t.Errorf("%v: zero message encodes to %d octets, %v", ty, len(b), err)
		}
		if n > MaxMessageLen {
			t.Errorf("%v longer than MaxMessageLen", ty)
		}
	}
	for _, ty := range []MsgType{0, 16, 0xffff} {
		if ty.Known() || ty.Len() != 0 || newMessage(ty) != nil {
			t.Errorf("%v known", ty)
		}
	}
	if MsgType(16).String() != "MSG(16)" {
		t.Error(MsgType(16).String())
	}
}

// set returns b with octets from hex s written at off.
func set(t *testing.T, b []byte, off int, s string) []byte {
	b = bytes.Clone(b)
	copy(b[off:], unhex(t, s))
	return b
}

func TestParseBad(t *testing.T) {
	sccrq := unhex(t, fixSCCRQ)
	echo := unhex(t, fixEchoRQ)
	cases := []struct {
		name string
		b    []byte
		err  error
		text string // in the message
	}{
		{"empty", nil, ErrShort, "0 octets"},
		{"short header", echo[:11], ErrShort, ""},
		{"truncated body", echo[:15], ErrLength, "Length 16 in a buffer of 15"},
		{"trailing octet", append(bytes.Clone(echo), 0), ErrLength, "Length 16 in a buffer of 17"},
		{"truncated SCCRQ", sccrq[:100], ErrLength, ""},
		// An Echo-Request padded to an Echo-Reply's length: both agree, but
		// not with §2.5's 16.
		{"length of another type", set(t, append(bytes.Clone(echo), 0, 0, 0, 0), 0, "0014"), ErrLength,
			"Echo-Request has Length 20, the RFC's is 16"},
		{"SCCRQ as Echo-Request", set(t, sccrq, 8, "0005"), ErrLength, "Echo-Request has Length 156, the RFC's is 16"},
		{"management message", set(t, echo, 2, "0002"), ErrMessageType, "Type 2"},
		{"message type 0", set(t, echo, 2, "0000"), ErrMessageType, ""},
		{"bad cookie", set(t, echo, 4, "1a2b3c4e"), ErrMagicCookie, "0x1a2b3c4e"},
		{"byte-swapped cookie", set(t, echo, 4, "4d3c2b1a"), ErrMagicCookie, ""},
		{"control type 0", set(t, echo, 8, "0000"), ErrControlType, ": 0"},
		{"control type 16", set(t, echo, 8, "0010"), ErrControlType, ": 16"},
		{"oversized", set(t, append(bytes.Clone(sccrq), make([]byte, 100)...), 0, "0100"), ErrLength, "256"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Parse(c.b)
			if !errors.Is(err, c.err) || m != nil {
				t.Fatalf("Parse = %v, %v; want %v", m, err, c.err)
			}
			if !strings.HasPrefix(err.Error(), "pptp: ") || !strings.Contains(err.Error(), c.text) {
				t.Fatalf("error %q, want it to contain %q", err, c.text)
			}
		})
	}
}

// TestReservedIgnored: non-zero reserved fields are accepted on receipt
// (see the package doc) and written as zeros.
func TestReservedIgnored(t *testing.T) {
	cases := []struct{ fix, patch string }{
		{fixSCCRQ, "0000000000000000 0000 ffff 0000 ffff"}, // Reserved0 and Reserved1
		{fixStopCCRQ, "0000000000000000 0000 ffff 00 ff ffff"},
		{fixStopCCRP, "0000000000000000 0000 0000 00 00 ffff"},
		{fixEchoRP, "0000000000000000 0000 0000 00000000 00 00 ffff"},
		{fixOCRQ, "0000000000000000 0000 0000" + strings.Repeat("00", 24) + "0000 ffff"},
		{fixICRP, "0000000000000000 0000 0000 0000 0000 00 00 0000 0000 ffff"},
		{fixICCN, "0000000000000000 0000 0000 0000 ffff"},
		{fixCCRQ, "0000000000000000 0000 0000 0000 ffff"},
		{fixCDN, "0000000000000000 0000 0000 0000 00 00 0000 ffff"},
		{fixWEN, "0000000000000000 0000 0000 0000 ffff"},
		{fixSLI, "0000000000000000 0000 0000 0000 ffff"},
	}
	for _, c := range cases {
		b := unhex(t, c.fix)
		p := unhex(t, c.patch)
		dirty := bytes.Clone(b)
		for i, v := range p {
			dirty[i] |= v
		}
		m, err := Parse(dirty)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := Append(nil, m)
		if !bytes.Equal(out, b) {
			t.Errorf("%v: reserved fields not ignored:\n%x\n%x", m.Type(), out, b)
		}
	}
}

// TestTextFields: the NUL-padded fields of §2.1 decode up to the first
// NUL or to the end of a full field, keep unprintable octets, and refuse
// to encode what they cannot carry.
func TestTextFields(t *testing.T) {
	full := strings.Repeat("h", 64)
	b := unhex(t, "009c 0001 1a2b3c4d 0001 0000 0100 0000 00000001 00000001 0000 0000"+
		hex.EncodeToString([]byte(full))+ // no NUL at all
		text("ven", 8)+"4142"+strings.Repeat("00", 54)) // garbage after the NUL
	m, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	s := m.(*SCCRQ)
	if s.HostName != full || s.VendorName != "ven" {
		t.Fatalf("%q %q", s.HostName, s.VendorName)
	}
	b = unhex(t, "009c 0001 1a2b3c4d 0001 0000 0100 0000 00000001 00000001 0000 0000"+
		text("\x01\xffé", 64)+text("", 64))
	m, _ = Parse(b)
	if m.(*SCCRQ).HostName != "\x01\xffé" {
		t.Fatalf("%q", m.(*SCCRQ).HostName)
	}
	// A full field encodes; one octet more does not, nor does a NUL.
	if _, err := Append(nil, &SCCRQ{HostName: full}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []Message{
		&SCCRQ{HostName: full + "x"},
		&SCCRP{VendorName: full + "x"},
		&SCCRQ{HostName: "a\x00b"},
		&OCRQ{PhoneNumber: full + "1"},
		&OCRQ{SubAddress: full + "1"},
		&ICRQ{DialedNumber: full + "1"},
		&ICRQ{DialingNumber: full + "1"},
		&ICRQ{SubAddress: full + "1"},
		&CDN{CallStatistics: strings.Repeat("s", 129)},
	} {
		pre := []byte{1, 2, 3}
		out, err := Append(pre, m)
		if !errors.Is(err, ErrField) || !bytes.Equal(out, pre) {
			t.Errorf("%v: %v, %x", m.Type(), err, out)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "pptp: "+m.Type().String()+": ") {
			t.Errorf("error %q", err)
		}
	}
}

// TestNumberLengths: the phone number length fields are written from the
// strings and not trusted on receipt.
func TestNumberLengths(t *testing.T) {
	b, _ := Append(nil, &ICRQ{DialedNumber: "12", DialingNumber: "34567"})
	if b[24] != 0 || b[25] != 2 || b[26] != 0 || b[27] != 5 {
		t.Fatalf("lengths %x", b[24:28])
	}
	b[25], b[27] = 0, 60
	m, _ := Parse(b)
	if r := m.(*ICRQ); r.DialedNumber != "12" || r.DialingNumber != "34567" {
		t.Fatalf("%+v", r)
	}
	b, _ = Append(nil, &OCRQ{PhoneNumber: "5551234"})
	if b[36] != 0 || b[37] != 7 {
		t.Fatalf("length %x", b[36:38])
	}
}

func TestSplit(t *testing.T) {
	var stream []byte
	for _, c := range fixtures {
		stream = append(stream, unhex(t, c.hex)...)
	}
	// Fed a growing prefix, Split waits until a whole message is there
	// and then yields exactly the fixtures in order.
	var got [][]byte
	buf := []byte{}
	for i := 0; i < len(stream); i++ {
		buf = append(buf, stream[i])
		for range len(fixtures) {
			msg, rest, err := Split(buf)
			if err != nil {
				t.Fatalf("at octet %d: %v", i, err)
			}
			if msg == nil {
				if !bytes.Equal(rest, buf) {
					t.Fatal("rest is not buf")
				}
				break
			}
			got = append(got, msg)
			buf = rest
		}
	}
	if len(buf) != 0 || len(got) != len(fixtures) {
		t.Fatalf("%d messages, %d octets left", len(got), len(buf))
	}
	for i, c := range fixtures {
		if !bytes.Equal(got[i], unhex(t, c.hex)) {
			t.Fatalf("message %d: %x", i, got[i])
		}
		if cap(got[i]) != len(got[i]) {
			t.Fatal("a message's capacity reaches into the next")
		}
	}
}

// TestSplitBad: a broken stream fails as soon as the octets that show it
// arrive, without waiting for the rest.
func TestSplitBad(t *testing.T) {
	cases := []struct {
		name string
		hex  string
		err  error
	}{
		{"length zero", "0000", ErrLength},
		{"length below header", "000b", ErrLength},
		{"length above ICRQ", "00dd", ErrLength},
		{"length 65535", "ffff", ErrLength},
		{"cookie first octet", "0010 0001 1b", ErrMagicCookie},
		{"cookie third octet", "0010 0001 1a2b00", ErrMagicCookie},
		{"cookie", "0010 0001 1a2b3c4c", ErrMagicCookie},
		{"cookie of a whole message", "0010 0001 00000000 0005 0000 00000000", ErrMagicCookie},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg, _, err := Split(unhex(t, c.hex))
			if !errors.Is(err, c.err) || msg != nil {
				t.Fatalf("%x, %v; want %v", msg, err, c.err)
			}
		})
	}
	// Partial but consistent prefixes wait for more.
	for _, s := range []string{"", "00", "0010", "0010 0001", "0010 0001 1a2b", "0010 0001 1a2b3c4d 0005"} {
		msg, rest, err := Split(unhex(t, s))
		if msg != nil || err != nil || len(rest) != len(unhex(t, s)) {
			t.Errorf("%q: %x %v", s, msg, err)
		}
	}
}

func TestScanMessages(t *testing.T) {
	stream := append(unhex(t, fixSCCRQ), unhex(t, fixEchoRQ)...)
	sc := bufio.NewScanner(bytes.NewReader(stream))
	sc.Split(ScanMessages)
	var types []MsgType
	for sc.Scan() {
		m, err := Parse(sc.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, m.Type())
	}
	if sc.Err() != nil || !reflect.DeepEqual(types, []MsgType{MsgSCCRQ, MsgEchoRQ}) {
		t.Fatalf("%v %v", types, sc.Err())
	}

	sc = bufio.NewScanner(bytes.NewReader(stream[:len(stream)-1]))
	sc.Split(ScanMessages)
	n := 0
	for sc.Scan() {
		n++
	}
	if n != 1 || !errors.Is(sc.Err(), io.ErrUnexpectedEOF) {
		t.Fatalf("%d messages, %v", n, sc.Err())
	}

	sc = bufio.NewScanner(bytes.NewReader(unhex(t, "0010 0001 deadbeef")))
	sc.Split(ScanMessages)
	if sc.Scan() || !errors.Is(sc.Err(), ErrMagicCookie) {
		t.Fatal(sc.Err())
	}
}

func TestCodeStrings(t *testing.T) {
	cases := []struct {
		v    interface{ String() string }
		want string
	}{
		{SCCRPSuccess, "Successful channel establishment"},
		{SCCRPBadVersion, "Protocol version not supported"},
		{SCCRPResult(0), "Result(0)"},
		{SCCRPResult(6), "Result(6)"},
		{StopLocalShutdown, "Stop-Local-Shutdown"},
		{StopReason(9), "Reason(9)"},
		{StopOK, "OK"},
		{EchoGeneralError, "General error"},
		{OCRPDoNotAccept, "Do Not Accept"},
		{OCRPResult(8), "Result(8)"},
		{ICRPConnect, "Connect"},
		{CDNRequest, "Request"},
		{CDNResult(5), "Result(5)"},
		{ErrorNone, "None"},
		{ErrorBadCallID, "Bad-Call ID"},
		{ErrorPACError, "PAC-Error"},
		{ErrorCode(7), "Error(7)"},
		{FramingAsync | FramingSync, "async|sync"},
		{Framing(0), "none"},
		{Framing(6), "sync|0x4"},
		{BearerDigital, "digital"},
		{MsgEchoRP, "Echo-Reply"},
	}
	for _, c := range cases {
		if got := c.v.String(); got != c.want {
			t.Errorf("%T(%v) = %q, want %q", c.v, c.v, got, c.want)
		}
	}
}
