package l2tp

import (
	"bytes"
	"errors"
	"testing"
)

func TestDataHeader(t *testing.T) {
	ppp := unhex(t, "ff03 c021 0101 0004")
	cases := []struct {
		name     string
		hex      string
		tid, sid uint16
		seq      bool
		ns       uint16
		wantErr  error
	}{
		// Minimal: no L, no S (§3.1 allows both to be absent on data).
		{"bare", "0002 3073 754c ff03c021 01010004", 0x3073, 0x754c, false, 0, nil},
		{"with L", "4002 0010 3073 754c ff03c021 01010004", 0x3073, 0x754c, false, 0, nil},
		{"with L and S", "4802 0014 3073 754c 0007 0000 ff03c021 01010004", 0x3073, 0x754c, true, 7, nil},
		// Offset Size 3 with three pad octets, §3.1.
		{"offset", "0a02 3073 754c 0009 0000 0003 aabbcc ff03c021 01010004", 0x3073, 0x754c, true, 9, nil},
		// L trims trailing garbage (e.g. Ethernet padding).
		{"trailing octets", "4002 0010 3073 754c ff03c021 01010004 0000", 0x3073, 0x754c, false, 0, nil},
		{"P bit", "4102 0010 3073 754c ff03c021 01010004", 0x3073, 0x754c, false, 0, nil},
		{"offset past end", "0202 3073 754c 00ff", 0, 0, false, 0, ErrShort},
		{"S without room", "0802 3073 754c 00", 0, 0, false, 0, ErrShort},
		{"length short", "4002 0004 3073 754c", 0, 0, false, 0, ErrShort},
		{"too short", "0002 3073", 0, 0, false, 0, ErrShort},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := unhex(t, c.hex)
			h, err := ParseHeader(b)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("err %v, want %v", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.IsControl() || h.TunnelID != c.tid || h.SessionID != c.sid || h.HasSequence() != c.seq || h.Ns != c.ns {
				t.Fatalf("header %+v", h)
			}
			if !bytes.Equal(h.Payload(b), ppp) {
				t.Fatalf("payload %x", h.Payload(b))
			}
		})
	}
}

func TestDataHeaderRoundTrip(t *testing.T) {
	ppp := []byte{0xff, 0x03, 0x00, 0x21, 0x45}
	for _, seq := range []bool{false, true} {
		b := AppendDataHeader(nil, 1, 2, seq, 77, len(ppp))
		if len(b) != DataHeaderLen(seq) {
			t.Fatal("DataHeaderLen")
		}
		b = append(b, ppp...)
		h, err := ParseHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		if h.TunnelID != 1 || h.SessionID != 2 || h.HasSequence() != seq || (seq && h.Ns != 77) || !bytes.Equal(h.Payload(b), ppp) {
			t.Fatalf("seq=%v %+v", seq, h)
		}
	}
}

func TestDataPathAllocs(t *testing.T) {
	buf := make([]byte, 0, 64)
	pkt := unhex(t, "0a02 3073 754c 0009 0000 0003 aabbcc ff03c021 01010004")
	n := testing.AllocsPerRun(1000, func() {
		b := AppendDataHeader(buf[:0], 1, 2, true, 3, 10)
		_ = b
		h, err := ParseHeader(pkt)
		if err != nil || h.SessionID != 0x754c {
			panic("parse")
		}
	})
	if n != 0 {
		t.Fatalf("%v allocations per data packet", n)
	}
}

func TestVersion(t *testing.T) {
	if v, _ := Version([]byte{0xc8, 0x03}); v != 3 {
		t.Fatal(v)
	}
	if _, err := Version([]byte{1}); err == nil {
		t.Fatal("short")
	}
}

func TestSeqLess(t *testing.T) {
	if !SeqLess(65535, 0) || SeqLess(0, 65535) || !SeqLess(1, 2) || SeqLess(5, 5) {
		t.Fatal("modular compare")
	}
}
