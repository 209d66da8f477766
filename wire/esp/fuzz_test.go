package esp

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// fuzzSuites are the suites the fuzz targets pick from by index.
var fuzzSuites = suites()

func fuzzPair(t *testing.T, i uint8) (*Sealer, *Opener, Config) {
	c := fuzzSuites[int(i)%len(fuzzSuites)].cfg
	s, o := pair(t, c)
	return s, o, c
}

// FuzzOpen feeds arbitrary octets to Open in every suite: it must never
// panic, and in the suites with an ICV what it accepts must be exactly
// what the sender holding the keys seals for that payload, sequence
// number and IV (the seeds are such packets): nothing forged gets in.
func FuzzOpen(f *testing.F) {
	for i := range fuzzSuites {
		s, _, _ := fuzzPair(&testing.T{}, uint8(i))
		pkt, _ := s.Seal(nil, []byte("seed payload"), 4)
		f.Add(uint8(i), pkt)
		f.Add(uint8(i), pkt[:8])
	}
	f.Add(uint8(0), []byte{})
	f.Fuzz(func(t *testing.T, i uint8, data []byte) {
		s, o, c := fuzzPair(t, i)
		p, nh, err := o.Open(bytes.Clone(data))
		if err != nil || (c.Cipher != CipherAESGCM && c.Integrity == IntegrityNone) {
			return
		}
		hdr := s.HeaderLen()
		again := s.seal(nil, p, nh, uint64(binary.BigEndian.Uint32(data[4:8])), data[HeaderLen:hdr])
		if !bytes.Equal(again, data) {
			t.Fatalf("suite %d accepted %x, which its sender would not make", int(i)%len(fuzzSuites), data)
		}
	})
}

// FuzzOpenTampered seals a payload and applies the fuzzer's changes to
// the packet (XOR masks, a truncation or an extension): Open must return
// the payload when nothing changed and refuse the packet otherwise.
func FuzzOpenTampered(f *testing.F) {
	f.Add(uint8(0), []byte("payload"), []byte{}, 0)
	f.Add(uint8(3), []byte("payload"), []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 0)
	f.Add(uint8(9), make([]byte, 100), []byte{1}, -3)
	f.Add(uint8(12), []byte{}, []byte{}, 5)
	f.Fuzz(func(t *testing.T, i uint8, payload, mask []byte, resize int) {
		s, o, c := fuzzPair(t, i)
		if c.Cipher != CipherAESGCM && c.Integrity == IntegrityNone {
			return
		}
		good, err := s.Seal(nil, payload, 17)
		if err != nil {
			t.Fatal(err)
		}
		bad := bytes.Clone(good)
		for j, m := range mask {
			bad[j%len(bad)] ^= m
		}
		switch {
		case resize < 0:
			bad = bad[:max(0, len(bad)+max(resize, -len(bad)))]
		case resize > 0:
			bad = append(bad, make([]byte, resize%64)...)
		}
		changed := !bytes.Equal(bad, good)
		p, nh, err := o.Open(bad)
		switch {
		case changed && err == nil:
			t.Fatalf("tampered packet accepted: %x -> %x", good, bad)
		case !changed && (err != nil || nh != 17 || !bytes.Equal(p, payload)):
			t.Fatalf("untouched packet: %v", err)
		}
	})
}

func FuzzClassify(f *testing.F) {
	f.Add([]byte{0xff})
	f.Add([]byte{0, 0, 0, 0, 1, 2, 3, 4, 5})
	f.Add([]byte{0, 0, 1, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		switch Classify(b) {
		case KindESP:
			if len(b) < HeaderLen || b[0]|b[1]|b[2]|b[3] == 0 {
				t.Fatalf("ESP: %x", b)
			}
		case KindIKE:
			if len(b) < HeaderLen || b[0]|b[1]|b[2]|b[3] != 0 {
				t.Fatalf("IKE: %x", b)
			}
		case KindKeepalive:
			if len(b) != 1 || b[0] != 0xff {
				t.Fatalf("keepalive: %x", b)
			}
		}
	})
}

// FuzzTransport4 seals arbitrary IPv4 packets in transport mode and opens
// what comes out, and opens arbitrary octets as transport-mode packets:
// no panics, and a sealed packet comes back whole.
func FuzzTransport4(f *testing.F) {
	f.Add(uint8(0), l2tpPacket(f, []byte("l2tp")))
	f.Add(uint8(5), []byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 50, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2})
	f.Fuzz(func(t *testing.T, i uint8, pkt []byte) {
		s, o, _ := fuzzPair(t, i)
		_, _ = o.OpenTransport4(bytes.Clone(pkt))
		out, err := s.SealTransport4(nil, pkt)
		if err != nil {
			return
		}
		inner, err := o.OpenTransport4(out)
		if err != nil {
			t.Fatalf("sealed packet refused: %v", err)
		}
		_, total, _ := ipv4Header(pkt)
		want := bytes.Clone(pkt[:total])
		// The header comes back with a fresh checksum; the rest as sent.
		if !bytes.Equal(inner[20:], want[20:]) || !bytes.Equal(inner[:10], want[:10]) || !bytes.Equal(inner[12:20], want[12:20]) {
			t.Fatalf("\n%x\n%x", inner, want)
		}
	})
}
