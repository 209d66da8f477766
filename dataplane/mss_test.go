package dataplane

import (
	"encoding/binary"
	"testing"
)

// tcpSyn builds an IPv4 (or IPv6) TCP packet with the given flags and MSS
// option (0: no option) and a correct checksum.
func tcpSyn(v6 bool, flags byte, mss uint16) []byte {
	opts := []byte{1, 1, 4, 2} // NOP NOP SACK-permitted
	if mss != 0 {
		opts = append(opts, 2, 4, byte(mss>>8), byte(mss))
	}
	tcp := make([]byte, 20+len(opts))
	binary.BigEndian.PutUint16(tcp[0:], 40000)
	binary.BigEndian.PutUint16(tcp[2:], 80)
	tcp[12] = byte((20+len(opts))/4) << 4
	tcp[13] = flags
	copy(tcp[20:], opts)
	var pkt []byte
	if v6 {
		pkt = make([]byte, 40)
		pkt[0], pkt[6], pkt[7] = 0x60, 6, 64
		binary.BigEndian.PutUint16(pkt[4:], uint16(len(tcp)))
		pkt[8], pkt[24] = 0xfd, 0xfd
	} else {
		pkt = make([]byte, 20)
		pkt[0], pkt[8], pkt[9] = 0x45, 64, 6
		binary.BigEndian.PutUint16(pkt[2:], uint16(20+len(tcp)))
		copy(pkt[12:], []byte{198, 19, 0, 1, 198, 19, 1, 10})
	}
	pkt = append(pkt, tcp...)
	binary.BigEndian.PutUint16(pkt[len(pkt)-len(tcp)+16:], tcpChecksum(pkt, v6))
	return pkt
}

// tcpChecksum computes the TCP checksum from scratch (with the field zeroed).
func tcpChecksum(pkt []byte, v6 bool) uint16 {
	var pseudo []byte
	var tcp []byte
	if v6 {
		tcp = pkt[40:]
		pseudo = append(append([]byte{}, pkt[8:40]...), 0, 0, byte(len(tcp)>>8), byte(len(tcp)), 0, 0, 0, 6)
	} else {
		tcp = pkt[20:]
		pseudo = append(append([]byte{}, pkt[12:20]...), 0, 6, byte(len(tcp)>>8), byte(len(tcp)))
	}
	c := append([]byte{}, tcp...)
	c[16], c[17] = 0, 0
	data := append(pseudo, c...)
	var s uint32
	for i := 0; i+1 < len(data); i += 2 {
		s += uint32(binary.BigEndian.Uint16(data[i:]))
	}
	if len(data)%2 == 1 {
		s += uint32(data[len(data)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

func mssOf(pkt []byte, v6 bool) uint16 {
	off := 20
	if v6 {
		off = 40
	}
	tcp := pkt[off:]
	opts := tcp[20 : int(tcp[12]>>4)*4]
	for i := 0; i < len(opts); {
		if opts[i] == 1 {
			i++
			continue
		}
		if opts[i] == 2 {
			return binary.BigEndian.Uint16(opts[i+2:])
		}
		i += int(opts[i+1])
	}
	return 0
}

func TestClampMSS(t *testing.T) {
	cases := []struct {
		name    string
		v6      bool
		flags   byte
		mss     uint16
		want    uint16
		changed bool
	}{
		{"syn v4 above", false, 0x02, 1460, 1360, true},
		{"syn-ack v4 above", false, 0x12, 1460, 1360, true},
		{"syn v4 below", false, 0x02, 1200, 1200, false},
		{"ack v4", false, 0x10, 1460, 1460, false},
		{"syn v6 above", true, 0x02, 1440, 1360, true},
		{"syn without mss", false, 0x02, 0, 0, false},
	}
	for _, c := range cases {
		pkt := tcpSyn(c.v6, c.flags, c.mss)
		if got := ClampMSS(pkt, 1360); got != c.changed {
			t.Errorf("%s: changed=%v, want %v", c.name, got, c.changed)
		}
		if c.mss != 0 && mssOf(pkt, c.v6) != c.want {
			t.Errorf("%s: mss %d, want %d", c.name, mssOf(pkt, c.v6), c.want)
		}
		off := 20
		if c.v6 {
			off = 40
		}
		if sum := binary.BigEndian.Uint16(pkt[off+16:]); sum != tcpChecksum(pkt, c.v6) {
			t.Errorf("%s: checksum %04x, recomputed %04x", c.name, sum, tcpChecksum(pkt, c.v6))
		}
	}
	// An MSS option at an odd offset (after one NOP) straddles checksum words.
	odd := tcpSyn(false, 0x02, 0)
	odd = append(odd[:40], 1, 2, 4, 0x05, 0xb4, 0, 0, 0)
	odd[32] = byte(28/4) << 4
	binary.BigEndian.PutUint16(odd[2:], uint16(len(odd)))
	binary.BigEndian.PutUint16(odd[36:], tcpChecksum(odd, false))
	if !ClampMSS(odd, 1300) || binary.BigEndian.Uint16(odd[36:]) != tcpChecksum(odd, false) {
		t.Errorf("odd-offset MSS: checksum %04x, recomputed %04x", binary.BigEndian.Uint16(odd[36:]), tcpChecksum(odd, false))
	}
	// Malformed: option length running past the header, UDP, fragments, truncation.
	bad := tcpSyn(false, 0x02, 1460)
	bad[len(bad)-3] = 40
	if ClampMSS(bad, 1000) {
		t.Error("clamped a packet with a bad option length")
	}
	udp := tcpSyn(false, 0x02, 1460)
	udp[9] = 17
	if ClampMSS(udp, 1000) {
		t.Error("clamped UDP")
	}
	frag := tcpSyn(false, 0x02, 1460)
	frag[7] = 1
	if ClampMSS(frag, 1000) {
		t.Error("clamped a non-first fragment")
	}
	for n := 0; n < 30; n++ {
		ClampMSS(tcpSyn(false, 0x02, 1460)[:n], 1000) // must not panic
	}
}

func FuzzClampMSS(f *testing.F) {
	f.Add(tcpSyn(false, 0x02, 1460), uint16(1360))
	f.Add(tcpSyn(true, 0x12, 1440), uint16(1200))
	f.Fuzz(func(t *testing.T, pkt []byte, mss uint16) {
		if len(pkt) < 40 || pkt[0]>>4 != 4 || pkt[9] != 6 || int(pkt[0]&0x0f) != 5 || int(binary.BigEndian.Uint16(pkt[2:])) != len(pkt) {
			ClampMSS(pkt, mss) // anything goes, but no panic
			return
		}
		// A well-formed IPv4 TCP packet with a correct checksum keeps a
		// correct checksum.
		binary.BigEndian.PutUint16(pkt[36:], tcpChecksum(pkt, false))
		ClampMSS(pkt, mss)
		if got := binary.BigEndian.Uint16(pkt[36:]); got != tcpChecksum(pkt, false) {
			t.Fatalf("checksum %04x after clamping, recomputed %04x", got, tcpChecksum(pkt, false))
		}
	})
}
