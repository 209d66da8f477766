package esp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/vpdn/vpdn/internal/csum"
)

func TestClassify(t *testing.T) {
	ike := AppendNonESPMarker(nil)
	ike = append(ike, make([]byte, 28)...)
	cases := []struct {
		name string
		b    []byte
		want Kind
	}{
		{"keepalive", []byte{0xff}, KindKeepalive},
		{"empty", nil, KindBad},
		{"one zero octet", []byte{0}, KindBad},
		{"two 0xFF", []byte{0xff, 0xff}, KindBad},
		{"marker alone", []byte{0, 0, 0, 0}, KindBad},
		{"marker and a bit", []byte{0, 0, 0, 0, 1, 2, 3}, KindBad},
		{"IKE", ike, KindIKE},
		{"ESP", []byte{0, 0, 0x12, 0x34, 0, 0, 0, 1}, KindESP},
		{"ESP, SPI high octet", []byte{0x80, 0, 0, 0, 0, 0, 0, 1, 9}, KindESP},
		{"short ESP", []byte{0, 0, 0x12, 0x34, 0, 0, 0}, KindBad},
	}
	for _, c := range cases {
		if got := Classify(c.b); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	if !bytes.Equal(AppendNonESPMarker([]byte{9}), []byte{9, 0, 0, 0, 0}) {
		t.Error("marker")
	}
}

// l2tpPacket is an IPv4/UDP 1701 datagram from 198.18.0.1 to 198.18.0.2
// with a correct UDP checksum, as an L2TP/IPsec client sends it.
func l2tpPacket(t testing.TB, payload []byte) []byte {
	t.Helper()
	udp := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(udp[0:], 1701)
	binary.BigEndian.PutUint16(udp[2:], 1701)
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(payload)))
	udp = append(udp, payload...)
	ip := unhex(t, "45000000 1c460000 40110000 c6120001 c6120002")
	binary.BigEndian.PutUint16(udp[6:], udpChecksum(ip[12:16], ip[16:20], udp))
	setIPv4(ip, 20, NextHeaderUDP, 20+len(udp))
	return append(ip, udp...)
}

func udpChecksum(src, dst, udp []byte) uint16 {
	c := udp[6:8:8]
	save := [2]byte{c[0], c[1]}
	c[0], c[1] = 0, 0
	acc := csum.Sum(udp, csum.PseudoSum(NextHeaderUDP, src, dst, len(udp)))
	c[0], c[1] = save[0], save[1]
	if s := ^csum.Fold(acc); s != 0 {
		return s
	}
	return 0xffff
}

// TestTransport4 seals an L2TP datagram in transport mode and opens it:
// the outer header says 50 with a valid checksum, the inner one comes
// back as it was; options survive; fragments and non-ESP are refused.
func TestTransport4(t *testing.T) {
	for _, su := range suites() {
		s, o := pair(t, su.cfg)
		orig := l2tpPacket(t, []byte("\xc8\x02\x00\x14\x00\x01\x00\x00\x00\x00\x00\x00"))
		pkt, err := s.SealTransport4(nil, orig)
		if err != nil {
			t.Fatal(err)
		}
		if pkt[9] != Protocol || int(binary.BigEndian.Uint16(pkt[2:])) != len(pkt) || csum.Checksum(pkt[:20]) != 0 {
			t.Fatalf("%s: outer header %x", su.name, pkt[:20])
		}
		if !bytes.Equal(pkt[12:20], orig[12:20]) {
			t.Fatalf("%s: addresses changed", su.name)
		}
		inner, err := o.OpenTransport4(pkt)
		if err != nil || !bytes.Equal(inner, orig) {
			t.Fatalf("%s: %v\n%x\n%x", su.name, err, inner, orig)
		}
	}

	c := Config{SPI: 77, Cipher: CipherAESGCM, EncKey: seq(1, 20)}
	s, o := pair(t, c)
	// A header with options (IHL 6: a 4-octet NOP/EOL option word).
	orig := l2tpPacket(t, []byte("hello"))
	withOpt := append(append(bytes.Clone(orig[:20]), 1, 1, 1, 0), orig[20:]...)
	withOpt[0] = 0x46
	setIPv4(withOpt, 24, NextHeaderUDP, len(withOpt))
	pkt, err := s.SealTransport4(nil, append(withOpt, 0xee, 0xee)) // trailing octets beyond total length
	if err != nil {
		t.Fatal(err)
	}
	inner, err := o.OpenTransport4(pkt)
	if err != nil || !bytes.Equal(inner, withOpt) {
		t.Fatalf("options: %v\n%x\n%x", err, inner, withOpt)
	}

	frag := bytes.Clone(orig)
	frag[6] |= 0x20 // more fragments
	bad := []struct {
		name string
		pkt  []byte
		want error
	}{
		{"short", orig[:19], ErrIPv4},
		{"IPv6", append([]byte{0x60}, orig[1:]...), ErrIPv4},
		{"IHL 4", append([]byte{0x44}, orig[1:]...), ErrIPv4},
		{"length beyond", orig[:len(orig)-1], ErrIPv4},
		{"fragment", frag, ErrFragment},
	}
	for _, b := range bad {
		if _, err := s.SealTransport4(nil, b.pkt); !errors.Is(err, b.want) {
			t.Errorf("seal %s: %v, want %v", b.name, err, b.want)
		}
		if _, err := o.OpenTransport4(b.pkt); !errors.Is(err, b.want) {
			t.Errorf("open %s: %v, want %v", b.name, err, b.want)
		}
	}
	if _, err := o.OpenTransport4(orig); !errors.Is(err, ErrNotESP) {
		t.Errorf("UDP packet opened: %v", err)
	}
	huge := make([]byte, 65535)
	copy(huge, orig[:20])
	setIPv4(huge, 20, NextHeaderUDP, len(huge))
	if _, err := s.SealTransport4(nil, huge); !errors.Is(err, ErrTooLong) {
		t.Errorf("65535 octets: %v", err)
	}
	if s.Seq() != 1 {
		t.Errorf("refused packets used sequence numbers: %d", s.Seq())
	}
}

// TestFixChecksum: an L2TP client behind a NAT computed its UDP checksum
// over its private address; the LNS sees the NAT's. The incremental fix
// gives the checksum a full recomputation over the seen addresses gives
// (RFC 3948 §3.1.2), for UDP and TCP; a zero UDP checksum stays zero.
func TestFixChecksum(t *testing.T) {
	orig := [4]byte{198, 19, 0, 10} // the client's address behind the NAT (NAT-OA)
	server := [4]byte{198, 18, 0, 2}
	natted := [4]byte{198, 18, 1, 1} // what the LNS sees
	for _, l := range []int{0, 1, 12, 13, 200} {
		payload := seq(byte(l), l)
		udp := make([]byte, 8, 8+l)
		binary.BigEndian.PutUint16(udp[0:], 1701)
		binary.BigEndian.PutUint16(udp[2:], 1701)
		binary.BigEndian.PutUint16(udp[4:], uint16(8+l))
		udp = append(udp, payload...)
		binary.BigEndian.PutUint16(udp[6:], udpChecksum(orig[:], server[:], udp))
		if err := FixChecksum(udp, NextHeaderUDP, orig, server, natted, server); err != nil {
			t.Fatal(err)
		}
		if got, want := binary.BigEndian.Uint16(udp[6:]), udpChecksum(natted[:], server[:], udp); got != want {
			t.Errorf("UDP %d: %#04x, want %#04x", l, got, want)
		}
		// TCP: the same arithmetic at offset 16.
		tcp := append(make([]byte, 20), payload...)
		tcp[12] = 5 << 4
		binary.BigEndian.PutUint16(tcp[16:], tcpChecksum(orig[:], server[:], tcp))
		if err := FixChecksum(tcp, NextHeaderTCP, orig, server, natted, server); err != nil {
			t.Fatal(err)
		}
		if got, want := binary.BigEndian.Uint16(tcp[16:]), tcpChecksum(natted[:], server[:], tcp); got != want {
			t.Errorf("TCP %d: %#04x, want %#04x", l, got, want)
		}
	}
	zero := make([]byte, 8)
	if err := FixChecksum(zero, NextHeaderUDP, orig, server, natted, server); err != nil || !bytes.Equal(zero, make([]byte, 8)) {
		t.Errorf("zero UDP checksum changed: %x %v", zero, err)
	}
	if err := FixChecksum(make([]byte, 7), NextHeaderUDP, orig, server, natted, server); !errors.Is(err, ErrSegment) {
		t.Errorf("short UDP: %v", err)
	}
	if err := FixChecksum(make([]byte, 17), NextHeaderTCP, orig, server, natted, server); !errors.Is(err, ErrSegment) {
		t.Errorf("short TCP: %v", err)
	}
	if err := FixChecksum(nil, 47, orig, server, natted, server); err != nil {
		t.Errorf("GRE: %v", err)
	}
	u := []byte{6, 165, 6, 165, 0, 8, 0x12, 0x34}
	if err := ZeroUDPChecksum(u); err != nil || u[6]|u[7] != 0 {
		t.Errorf("zeroed %x %v", u, err)
	}
	if err := ZeroUDPChecksum(u[:7]); !errors.Is(err, ErrSegment) {
		t.Errorf("short: %v", err)
	}
}

func tcpChecksum(src, dst, tcp []byte) uint16 {
	save := [2]byte{tcp[16], tcp[17]}
	tcp[16], tcp[17] = 0, 0
	acc := csum.Sum(tcp, csum.PseudoSum(NextHeaderTCP, src, dst, len(tcp)))
	tcp[16], tcp[17] = save[0], save[1]
	return ^csum.Fold(acc)
}
