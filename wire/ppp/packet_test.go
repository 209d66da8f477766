package ppp

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
)

func TestParsePacket(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want Packet
		err  error
	}{
		{"Cisco LCP CONFREQ", "01 01 000f 0305c22305 05060fe5de30 00",
			Packet{ConfReq, 1, []byte{3, 5, 0xc2, 0x23, 5, 5, 6, 0x0f, 0xe5, 0xde, 0x30}}, nil},
		{"padding after length ignored", "06 07 0004 deadbeef", Packet{TermAck, 7, []byte{}}, nil},
		{"too short", "01 01 00", Packet{}, ErrShort},
		{"length below header", "01 01 0003", Packet{}, ErrBadLength},
		{"length lies", "01 01 0010 0102", Packet{}, ErrLength},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParsePacket(unhex(t, c.in))
			if err != c.err {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if err == nil && (p.Code != c.want.Code || p.ID != c.want.ID || !bytes.Equal(p.Data, c.want.Data)) {
				t.Fatalf("got %+v, want %+v", p, c.want)
			}
		})
	}
}

func TestAppendPacket(t *testing.T) {
	var data []byte
	data = AppendOptionUint16(data, LCPOptMRU, 1500)
	data = AppendAuthProtoOption(data, AuthProto{ProtoCHAP, CHAPMD5})
	data = AppendOptionUint32(data, LCPOptMagic, 0x0fe5de30)
	data = AppendOptionEmpty(data, LCPOptPFC)
	data = AppendOptionEmpty(data, LCPOptACFC)
	got := AppendPacket([]byte{0xff, 0x03, 0xc0, 0x21}, ConfReq, 1, data)
	want := unhex(t, "ff03c021 01 01 0017 010405dc 0305c22305 05060fe5de30 0702 0802")
	if !bytes.Equal(got, want) {
		t.Fatalf("got  %x\nwant %x", got, want)
	}
}

func collect(t *testing.T, data []byte) ([]Option, error) {
	t.Helper()
	var opts []Option
	it := Options(data)
	for it.Next() {
		opts = append(opts, it.Option())
	}
	return opts, it.Err()
}

func TestOptionIter(t *testing.T) {
	cases := []struct {
		name  string
		in    string
		types []uint8
		err   error
	}{
		{"empty", "", nil, nil},
		{"three", "010405dc 0702 0802", []uint8{1, 7, 8}, nil},
		{"length 0", "0100", nil, ErrOptionLength},
		{"length 1", "0702 0801", []uint8{7}, ErrOptionLength},
		{"length beyond", "010805dc", nil, ErrOptionLength},
		{"lone type octet", "0702 08", []uint8{7}, ErrOptionLength},
		{"too many", strings.Repeat("0702", MaxOptions+1), nil, ErrTooManyOpts},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts, err := collect(t, unhex(t, c.in))
			if err != c.err {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if c.err == ErrTooManyOpts {
				if len(opts) != MaxOptions {
					t.Fatalf("%d options before the limit", len(opts))
				}
				return
			}
			if len(opts) != len(c.types) {
				t.Fatalf("got %d options, want %d", len(opts), len(c.types))
			}
			for i, o := range opts {
				if o.Type != c.types[i] || int(o.Raw[1]) != len(o.Raw) || len(o.Value) != len(o.Raw)-2 {
					t.Fatalf("option %d: %+v", i, o)
				}
			}
		})
	}
	if err := ValidateOptions(unhex(t, "0100")); err != ErrOptionLength {
		t.Fatal(err)
	}
}

func TestLCPOptionValues(t *testing.T) {
	cases := []struct {
		in   string
		want AuthProto
		err  error
	}{
		{"c023", AuthProto{ProtoPAP, 0}, nil},
		{"c22305", AuthProto{ProtoCHAP, CHAPMD5}, nil},
		{"c22380", AuthProto{ProtoCHAP, CHAPMSv1}, nil},
		{"c22381", AuthProto{ProtoCHAP, CHAPMSv2}, nil},
		{"c227", AuthProto{ProtoEAP, 0}, nil},
		{"c223", AuthProto{}, ErrOptionValue},
		{"c02300", AuthProto{}, ErrOptionValue},
		{"c0", AuthProto{}, ErrOptionValue},
	}
	for _, c := range cases {
		got, err := ParseAuthProto(unhex(t, c.in))
		if err != c.err || got != c.want {
			t.Errorf("%s: got %+v %v, want %+v %v", c.in, got, err, c.want, c.err)
		}
		if err == nil {
			enc := AppendAuthProtoOption(nil, got)
			if !bytes.Equal(enc[2:], unhex(t, c.in)) || int(enc[1]) != len(enc) {
				t.Errorf("%s: encoded %x", c.in, enc)
			}
		}
	}
	if _, err := OptionUint16([]byte{1}); err != ErrOptionValue {
		t.Error("short MRU accepted")
	}
	if _, err := OptionUint32([]byte{1, 2, 3}); err != ErrOptionValue {
		t.Error("short magic accepted")
	}
	if m, rest, err := ParseMagicData(unhex(t, "0fe5de30 6869")); err != nil || m != 0x0fe5de30 || string(rest) != "hi" {
		t.Error("echo data", m, rest, err)
	}
	if _, _, err := ParseMagicData([]byte{1, 2}); err != ErrShort {
		t.Error("short echo accepted")
	}
	if p, info, err := ParseProtocolReject(unhex(t, "802b 0101")); err != nil || p != 0x802b || len(info) != 2 {
		t.Error("protocol reject", p, info, err)
	}
	if _, _, err := ParseProtocolReject([]byte{1}); err != ErrShort {
		t.Error("short protocol reject accepted")
	}
	if c, err := ParseCodeReject([]byte{0x0e, 1}); err != nil || c != 14 {
		t.Error("code reject", c, err)
	}
	if _, err := ParseCodeReject(nil); err != ErrShort {
		t.Error("empty code reject accepted")
	}
}

func TestNCPOptions(t *testing.T) {
	// A Windows client's IPCP request: address and both DNS, 0.0.0.0.
	pkt, err := ParsePacket(unhex(t, "01 01 0016 0306 00000000 8106 00000000 8306 00000000"))
	if err != nil {
		t.Fatal(err)
	}
	opts, err := collect(t, pkt.Data)
	if err != nil || len(opts) != 3 || opts[1].Type != IPCPOptPrimaryDNS || opts[2].Type != IPCPOptSecondaryDNS {
		t.Fatal(opts, err)
	}
	a, err := OptionAddr(opts[0].Value)
	if err != nil || a != netip.IPv4Unspecified() {
		t.Fatal(a, err)
	}
	if _, err := OptionAddr([]byte{1, 2, 3}); err != ErrOptionValue {
		t.Fatal("short address accepted")
	}
	enc := AppendOptionAddr(nil, IPCPOptAddress, netip.MustParseAddr("198.19.0.5"))
	if !bytes.Equal(enc, unhex(t, "0306 c6130005")) {
		t.Fatalf("%x", enc)
	}
	if enc := AppendOptionAddr(nil, IPCPOptPrimaryDNS, netip.Addr{}); !bytes.Equal(enc, unhex(t, "8106 00000000")) {
		t.Fatalf("%x", enc)
	}
	id, err := OptionInterfaceID(unhex(t, "0211223344556677"))
	if err != nil || id.IsZero() || id.LinkLocal().String() != "fe80::211:2233:4455:6677" {
		t.Fatal(id, err)
	}
	if _, err := OptionInterfaceID([]byte{1}); err != ErrOptionValue {
		t.Fatal("short interface id accepted")
	}
	if enc := AppendOptionInterfaceID(nil, id); !bytes.Equal(enc, unhex(t, "010a 0211223344556677")) {
		t.Fatalf("%x", enc)
	}
	if IPCPOptionName(129) != "PrimaryDNS" || LCPOptionName(5) != "MagicNumber" || IPv6CPOptionName(1) != "InterfaceID" || LCPOptionName(99) != "Type99" {
		t.Fatal("names")
	}
}

func TestCodeNames(t *testing.T) {
	for c, want := range map[Code]string{ConfReq: "CONFREQ", ProtoRej: "PROTREJ", TimeRemaining: "TIMEREMAIN", 99: "CODE99"} {
		if c.String() != want {
			t.Errorf("%d: %s", c, c)
		}
	}
}

func TestNames(t *testing.T) {
	for got, want := range map[string]string{
		PAPCodeName(PAPRequest): "AUTH-REQ", PAPCodeName(PAPNak): "AUTH-NAK", PAPCodeName(9): "ECHOREQ",
		CHAPCodeName(CHAPChallenge): "CHALLENGE", CHAPCodeName(CHAPFailure): "FAILURE", CHAPCodeName(MSCHAPv2ChangePassword): "CHANGE-PASSWORD",
		EAPCodeName(EAPRequest): "REQUEST", EAPCodeName(EAPFailure): "FAILURE",
		AuthProto{ProtoCHAP, CHAPMSv2}.String(): "MS-CHAP-V2", AuthProto{ProtoPAP, 0}.String(): "PAP", AuthProto{ProtoCHAP, 7}.String(): "CHAP/7",
		IPCPOptionName(IPCPOptCompression): "CompressType", IPCPOptionName(IPCPOptSecondaryNBNS): "SecondaryWINS",
		LCPOptionName(LCPOptACFC): "ACFC", ProtoEAP.String(): "EAP",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	if !ProtoLCP.IsControl() || ProtoIPv4.IsControl() {
		t.Error("IsControl")
	}
}
