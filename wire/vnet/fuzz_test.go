package vnet

import (
	"bytes"
	"testing"
)

func FuzzDecode(f *testing.F) {
	f.Add([]byte{1, 1, 52, 0, 0xa8, 5, 20, 0, 16, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := Decode(b)
		if err != nil {
			if len(b) >= HdrLen {
				t.Fatalf("Decode(%x): %v", b, err)
			}
			return
		}
		if got := h.Append(nil); !bytes.Equal(got, b[:HdrLen]) {
			t.Fatalf("round trip %x -> %x", b[:HdrLen], got)
		}
	})
}

// FuzzSegment: any header and packet is planned without panicking; a plan
// gives segments whose checksums verify, that carry the payload in order,
// and that a Coalescer merges back into the super-packet's payload.
func FuzzSegment(f *testing.F) {
	h, p := superPacket(false, payload(2500, 1), flagACK|flagPSH)
	f.Add(h.Append(nil), p, 0)
	h, p = superPacket(true, payload(4000, 1), flagACK|flagFIN)
	f.Add(h.Append(nil), p, 1100)
	f.Add(make([]byte, 10), []byte{0x45}, 0)
	f.Fuzz(func(t *testing.T, hb, pkt []byte, maxLen int) {
		h, err := Decode(hb)
		if err != nil {
			return
		}
		orig := append([]byte(nil), pkt...)
		plan, err := PlanTCP(h, pkt, maxLen)
		if err != nil {
			return
		}
		if plan.N > len(pkt) {
			t.Fatalf("plan of %d segments for %d octets", plan.N, len(pkt))
		}
		if plan.N > 1000 {
			return // tiny segments: correct, but slow to check
		}
		c := newCoalescer()
		var pay []byte
		merged := 0
		for i := range plan.N {
			seg := make([]byte, plan.SegLen(i))
			if n := plan.Segment(seg, pkt, i); n != len(seg) || n > max(maxLen, 0) && maxLen > 0 {
				t.Fatalf("segment %d: %d octets, room %d, maxLen %d", i, n, len(seg), maxLen)
			}
			if !naiveTCPValid(seg) {
				t.Fatalf("segment %d: bad TCP checksum", i)
			}
			if !plan.IPv6 && naiveSum(seg[:20]) != 0xffff {
				t.Fatalf("segment %d: bad IP checksum", i)
			}
			pay = append(pay, seg[plan.HdrLen:]...)
			switch {
			case i == 0 && c.Start(seg):
				merged = 1
			case i > 0 && merged > 0 && c.Add(seg):
				merged++
			}
		}
		if !bytes.Equal(pay, pkt[plan.HdrLen:]) || !bytes.Equal(pkt, orig) {
			t.Fatal("segments do not carry the payload")
		}
		if merged > 0 {
			out := c.Finish()
			if got := out[HdrLen+plan.HdrLen:]; !bytes.HasPrefix(pkt[plan.HdrLen:], got) || len(got) == 0 {
				t.Fatal("coalesced payload differs")
			}
		}
	})
}

// FuzzCoalesce: arbitrary packets never panic a Coalescer, and what it
// builds stays within its buffer.
func FuzzCoalesce(f *testing.F) {
	s := segs(false, 2)
	f.Add(s[0], s[1])
	s = segs(true, 2)
	f.Add(s[0], s[1])
	f.Fuzz(func(t *testing.T, a, b []byte) {
		c := newCoalescer()
		if !c.Start(a) {
			if !c.Empty() {
				t.Fatal("refused Start left data")
			}
			return
		}
		c.Add(b)
		out := c.Finish()
		if len(out) > HdrLen+MaxIPLen {
			t.Fatalf("%d octets", len(out))
		}
		if c.Segments() == 1 && !bytes.Equal(out[HdrLen:], a) {
			t.Fatal("single segment changed")
		}
	})
}
