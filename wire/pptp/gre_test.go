package pptp

import (
	"bytes"
	"errors"
	"testing"
)

// GRE fixtures assembled from the §4.1 layout: 0x30 is K|S, 0x20 K alone;
// 0x81 is A with version 1, 0x01 version 1 alone; 880b PPP.
var greFixtures = []struct {
	name    string
	hex     string
	want    GREHeader
	payload string
}{
	{"data, seq only", "3001 880b 0004 1234 00000007 ff03c021",
		GREHeader{PayloadLen: 4, CallID: 0x1234, HasSeq: true, Seq: 7}, "ff03c021"},
	{"data, seq and ack", "3081 880b 0004 1234 00000008 00000005 ff03c021",
		GREHeader{PayloadLen: 4, CallID: 0x1234, HasSeq: true, Seq: 8, HasAck: true, Ack: 5}, "ff03c021"},
	{"ack only", "2081 880b 0000 4321 fffffffe",
		GREHeader{CallID: 0x4321, HasAck: true, Ack: 0xfffffffe}, ""},
	{"bare keepalive", "2001 880b 0000 4321",
		GREHeader{CallID: 0x4321}, ""},
	{"seq, empty payload", "3001 880b 0000 0001 00000000",
		GREHeader{CallID: 1, HasSeq: true}, ""},
}

func TestParseGRE(t *testing.T) {
	for _, c := range greFixtures {
		t.Run(c.name, func(t *testing.T) {
			b := unhex(t, c.hex)
			h, p, err := ParseGRE(b)
			if err != nil {
				t.Fatal(err)
			}
			if h != c.want || !bytes.Equal(p, unhex(t, c.payload)) {
				t.Fatalf("%+v %x", h, p)
			}
			if h.Len()+len(p) != len(b) {
				t.Fatalf("Len %d", h.Len())
			}
			out := AppendGRE([]byte{0xee}, h, p)
			if out[0] != 0xee || !bytes.Equal(out[1:], b) {
				t.Fatalf("encoded %x", out[1:])
			}
			hdr := AppendGREHeader(nil, h)
			if !bytes.Equal(hdr, b[:h.Len()]) {
				t.Fatalf("header %x", hdr)
			}
		})
	}
}

// TestParseGREPadding: octets after Payload Length are padding: trimmed,
// and the payload's capacity does not reach them.
func TestParseGREPadding(t *testing.T) {
	b := unhex(t, "3001 880b 0002 1234 00000001 c021 0000")
	h, p, err := ParseGRE(b)
	if err != nil || h.PayloadLen != 2 || !bytes.Equal(p, []byte{0xc0, 0x21}) || cap(p) != 2 {
		t.Fatalf("%+v %x %v", h, p, err)
	}
}

func TestParseGREBad(t *testing.T) {
	cases := []struct {
		name string
		hex  string
		err  error
	}{
		{"empty", "", ErrGREShort},
		{"7 octets", "3001 880b 0004 12", ErrGREShort},
		{"seq truncated", "3001 880b 0000 1234 000000", ErrGREShort},
		{"ack truncated", "3081 880b 0000 1234 00000001 0000", ErrGREShort},
		{"ack only truncated", "2081 880b 0000 1234 00", ErrGREShort},
		{"payload past the end", "3001 880b 0005 1234 00000007 ff03c021", ErrGRELength},
		{"payload length 65535", "3001 880b ffff 1234 00000007 ff03c021", ErrGRELength},
		{"version 0", "3000 880b 0004 1234 00000007 ff03c021", ErrGREVersion},
		{"version 2", "3002 880b 0004 1234 00000007 ff03c021", ErrGREVersion},
		{"version 7 with A", "3087 880b 0004 1234 00000007 ff03c021", ErrGREVersion},
		{"IPv4 protocol type", "3001 0800 0004 1234 00000007 ff03c021", ErrGREProtocol},
		{"PPP protocol type of RFC 8086", "3001 880a 0004 1234 00000007 ff03c021", ErrGREProtocol},
		{"K clear", "1001 880b 0004 1234 00000007 ff03c021", ErrGREFlags},
		{"C set", "b001 880b 0004 1234 00000007 ff03c021", ErrGREFlags},
		{"R set", "7001 880b 0004 1234 00000007 ff03c021", ErrGREFlags},
		{"s set", "3801 880b 0004 1234 00000007 ff03c021", ErrGREFlags},
		{"Recur 1", "3101 880b 0004 1234 00000007 ff03c021", ErrGREFlags},
		{"Recur 7", "3701 880b 0004 1234 00000007 ff03c021", ErrGREFlags},
		{"Flags bit", "3009 880b 0004 1234 00000007 ff03c021", ErrGREFlags},
		{"Flags all", "30f9 880b 0004 1234 00000007 ff03c021", ErrGREFlags},
		{"payload without S", "2001 880b 0004 1234 ff03c021", ErrGRENoSeq},
		{"payload with only A", "2081 880b 0004 1234 00000001 ff03c021", ErrGRENoSeq},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, p, err := ParseGRE(unhex(t, c.hex))
			if err != c.err || p != nil {
				t.Fatalf("%x, %v; want %v", p, err, c.err)
			}
		})
	}
}

func TestAppendGREPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"payload without seq": func() { AppendGRE(nil, GREHeader{}, []byte{1}) },
		"payload too long":    func() { AppendGRE(nil, GREHeader{HasSeq: true}, make([]byte, 0x10000)) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
	// The largest payload the field describes is fine.
	b := AppendGRE(nil, GREHeader{HasSeq: true}, make([]byte, 0xffff))
	if h, p, err := ParseGRE(b); err != nil || len(p) != 0xffff || h.PayloadLen != 0xffff {
		t.Fatal(err)
	}
}

// TestGREAllocs: the data path, parsing and appending (with headroom),
// accepted or dropped, allocates nothing.
func TestGREAllocs(t *testing.T) {
	pkt := unhex(t, "3081 880b 0004 1234 00000008 00000005 ff03c021")
	bad := unhex(t, "3001 880b 0005 1234 00000007 ff03c021")
	buf := make([]byte, 0, 64)
	payload := []byte{0xff, 0x03, 0x00, 0x21}
	n := testing.AllocsPerRun(1000, func() {
		h, p, err := ParseGRE(pkt)
		if err != nil || h.CallID != 0x1234 || len(p) != 4 {
			panic("parse")
		}
		if _, _, err := ParseGRE(bad); !errors.Is(err, ErrGRELength) {
			panic("bad")
		}
		b := AppendGRE(buf[:0], GREHeader{CallID: 9, HasSeq: true, Seq: 1, HasAck: true, Ack: 2}, payload)
		b = AppendGREHeader(b[:0], h)
		_ = b
	})
	if n != 0 {
		t.Fatalf("%v allocations per packet", n)
	}
}

func TestSeqAfter(t *testing.T) {
	if !SeqAfter(1, 0) || SeqAfter(0, 1) || !SeqAfter(0, 0xffffffff) || SeqAfter(5, 5) || !SeqAfter(0x7fffffff, 0) {
		t.Fatal("modular compare")
	}
}
