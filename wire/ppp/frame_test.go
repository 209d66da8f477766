package ppp

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.NewReplacer(" ", "", "\n", "", "\t", "").Replace(s))
	if err != nil {
		t.Fatalf("bad hex fixture %q: %v", s, err)
	}
	return b
}

func TestParseFrame(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		proto   Protocol
		payload string
		err     error
	}{
		{"full header LCP", "ff03 c021 01010004", ProtoLCP, "01010004", nil},
		{"no address/control (ACFC or PPPoE)", "c021 0101", ProtoLCP, "0101", nil},
		{"PFC IPv4", "21 4500", ProtoIPv4, "4500", nil},
		{"ACFC+PFC off, IPv4", "ff03 0021 4500", ProtoIPv4, "4500", nil},
		{"PFC with address/control", "ff03 57 60", ProtoIPv6, "60", nil},
		{"empty payload", "ff03 8021", ProtoIPCP, "", nil},
		{"empty", "", 0, "", ErrShort},
		{"only address/control", "ff03", 0, "", ErrShort},
		{"one even octet", "c0", 0, "", ErrShort},
		{"even low octet", "c020 00", 0, "", ErrProtocol},
		{"ff03 then even pair", "ff03 0020", 0, "", ErrProtocol},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, pl, err := ParseFrame(unhex(t, c.in))
			if err != c.err {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if err != nil {
				return
			}
			if p != c.proto || !bytes.Equal(pl, unhex(t, c.payload)) {
				t.Fatalf("got %v %x, want %v %s", p, pl, c.proto, c.payload)
			}
		})
	}
}

func TestFramingHeaders(t *testing.T) {
	cases := []struct {
		f    Framing
		p    Protocol
		want string
	}{
		{Framing{AddressControl: true}, ProtoIPv4, "ff030021"},
		{Framing{AddressControl: true, PFC: true}, ProtoIPv4, "ff0321"},
		{Framing{AddressControl: true, ACFC: true}, ProtoIPv4, "0021"},
		{Framing{AddressControl: true, ACFC: true, PFC: true}, ProtoIPv4, "21"},
		{Framing{AddressControl: true, ACFC: true, PFC: true}, ProtoIPCP, "8021"},
		// LCP keeps address/control (RFC 1661 §6.6) and cannot be compressed.
		{Framing{AddressControl: true, ACFC: true, PFC: true}, ProtoLCP, "ff03c021"},
		{Framing{}, ProtoLCP, "c021"},
		{Framing{PFC: true}, ProtoIPv6, "57"},
	}
	for _, c := range cases {
		got := c.f.Append(nil, c.p)
		if hex.EncodeToString(got) != c.want {
			t.Errorf("%+v %v: got %x, want %s", c.f, c.p, got, c.want)
		}
		if c.f.HeaderLen(c.p) != len(got) {
			t.Errorf("%+v %v: HeaderLen %d, wrote %d", c.f, c.p, c.f.HeaderLen(c.p), len(got))
		}
		// Round trip through the parser.
		p, pl, err := ParseFrame(append(got, 0xAA))
		if err != nil || p != c.p || !bytes.Equal(pl, []byte{0xAA}) {
			t.Errorf("%+v %v: parse back %v %x %v", c.f, c.p, p, pl, err)
		}
	}
}

func TestPrepend(t *testing.T) {
	buf := make([]byte, 64)
	copy(buf[MaxHeaderLen:], "\x45\x00")
	f := Framing{AddressControl: true}
	start, err := f.Prepend(buf[:MaxHeaderLen+2], MaxHeaderLen, ProtoIPv4)
	if err != nil || start != 0 || hex.EncodeToString(buf[start:MaxHeaderLen+2]) != "ff0300214500" {
		t.Fatalf("Prepend = %d %v %x", start, err, buf[:6])
	}
	if _, err := f.Prepend(buf, 3, ProtoIPv4); err != ErrHeadroom {
		t.Fatalf("short headroom: err = %v", err)
	}
	if _, err := f.Prepend(buf[:2], 4, ProtoIPv4); err != ErrHeadroom {
		t.Fatalf("off beyond buffer: err = %v", err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := f.Prepend(buf, MaxHeaderLen, ProtoIPv4); err != nil {
			t.Fatal(err)
		}
		if _, _, err := ParseFrame(buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Prepend+ParseFrame allocate %v times", allocs)
	}
}

func TestProtocolString(t *testing.T) {
	if ProtoLCP.String() != "LCP" || Protocol(0x802b).String() != "0x802b" || Protocol(0x21).String() != "IP" {
		t.Fatal(ProtoLCP.String(), Protocol(0x802b).String())
	}
	for _, p := range []Protocol{ProtoIPv4, ProtoIPv6, ProtoCompressed, ProtoIPCP, ProtoIPv6CP, ProtoCCP, ProtoLCP, ProtoPAP, ProtoCHAP, ProtoEAP} {
		if !p.Valid() {
			t.Errorf("%v not valid", p)
		}
	}
	if Protocol(0x0120).Valid() || Protocol(0x0121).Valid() {
		t.Error("bad protocol values accepted")
	}
}
