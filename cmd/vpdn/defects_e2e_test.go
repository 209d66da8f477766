package main

// Black-box tests of four defects of the L2TP data path found in review
// (issue 9), on the real binary in namespaces. Each fails on the build
// before the access core (commit 809d388) and passes after it.

import (
	"encoding/binary"
	"encoding/json"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vpdn/vpdn/internal/nstest"
)

// rxPackets is the RX packet counter of dev in ns: what vpdn wrote into
// the TUN.
func rxPackets(t *testing.T, ns *nstest.NS, dev string) int {
	t.Helper()
	out, err := ns.IP("-j", "-s", "link", "show", "dev", dev)
	if err != nil {
		t.Fatalf("ip -s link show %s: %v %s", dev, err, out)
	}
	var links []struct {
		Stats struct {
			RX struct {
				Packets int `json:"packets"`
			} `json:"rx"`
		} `json:"stats64"`
	}
	if err := json.Unmarshal(out, &links); err != nil || len(links) != 1 {
		t.Fatalf("ip -j: %v %s", err, out)
	}
	return links[0].Stats.RX.Packets
}

// ipUDP is an IPv4 UDP datagram from src to dst port 9 (discard).
func ipUDP(src, dst string) []byte {
	p := make([]byte, 36)
	p[0], p[8], p[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(p[12:], s[:])
	copy(p[16:], d[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(p[i:]))
	}
	sum = sum>>16 + sum&0xffff
	sum += sum >> 16
	binary.BigEndian.PutUint16(p[10:], ^uint16(sum))
	binary.BigEndian.PutUint16(p[20:], 40000)
	binary.BigEndian.PutUint16(p[22:], 9)
	binary.BigEndian.PutUint16(p[24:], 16)
	return p
}

// sendRawIP sends IPv4 packets (headers included) from ns.
func sendRawIP(t *testing.T, ns *nstest.NS, pkts ...[]byte) {
	t.Helper()
	if err := ns.Do(func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		for _, p := range pkts {
			dst := unix.SockaddrInet4{Addr: [4]byte(p[16:20])}
			if err := unix.Sendto(fd, p, 0, &dst); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// lnsSession returns the LNS's local tunnel and session IDs of its one
// session, read off `show l2tun session`.
func lnsSession(t *testing.T, d *served) (tunnel, session uint16) {
	t.Helper()
	for _, line := range strings.Split(d.show("show", "l2tun", "session"), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[0] == "LocID" {
			continue
		}
		s, err1 := strconv.ParseUint(f[0], 10, 16)
		tu, err2 := strconv.ParseUint(f[2], 10, 16)
		if err1 == nil && err2 == nil {
			return uint16(tu), uint16(s)
		}
	}
	t.Fatalf("no session on the LNS:\n%s", d.show("show", "l2tun", "session"))
	return 0, 0
}

// TestDataPathDefects: a LAC and an LNS, and a third host on the LAC's
// segment.
//   - A data message that names the live session's IDs but comes from the
//     third host does not reach the LNS's Virtual-Access (it did: any
//     sender that knew or guessed two 16-bit IDs could inject).
//   - A packet the client sends with another source than its own (another
//     subscriber's address, the LNS's) is dropped at the LNS (it was
//     forwarded, and its replies went to the real owner).
//   - After a transfer, show l2tun session all counts the data (it counted
//     the PPP control frames only).
func TestDataPathDefects(t *testing.T) {
	lab := nstest.New(t)
	lac, lns, evil := lab.NS("lac"), lab.NS("lns"), lab.NS("evil")
	lab.Link(lac, lns, mustPrefix("198.18.0.1/24"), mustPrefix("198.18.0.2/24"))
	lab.Link(evil, lns, mustPrefix("198.18.3.1/24"), mustPrefix("198.18.3.2/24"))
	evil.Route(mustPrefix("198.18.0.0/24"), netip.MustParseAddr("198.18.3.2"))
	lnsD, _ := serveIn(t, lab, lns, "LNS", raLNS), serveIn(t, lab, lac, "LAC", raLAC)
	waitFor(t, "Vp1 with a pool address on the LAC", func() bool {
		out, _ := lac.IP("-4", "addr", "show", "dev", "Vp1")
		return strings.Contains(string(out), "inet 198.19.1.")
	})
	client := vp1Addr(t, lac)
	waitFor(t, "Vi1 on the LNS", func() bool { _, err := lns.IP("link", "show", "dev", "Vi1"); return err == nil })

	// 1. Injection from a stranger with the session's IDs.
	tun, ses := lnsSession(t, lnsD)
	before := rxPackets(t, lns, "Vi1")
	if err := evil.Do(func() error {
		c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.MustParseAddrPort("198.18.0.2:1701")))
		if err != nil {
			return err
		}
		defer c.Close()
		ip := ipUDP(client, "198.19.0.1")
		msg := []byte{0x00, 0x02, byte(tun >> 8), byte(tun), byte(ses >> 8), byte(ses), 0xff, 0x03, 0x00, 0x21}
		msg = append(msg, ip...)
		for range 20 {
			if _, err := c.Write(msg); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if got := rxPackets(t, lns, "Vi1") - before; got > 2 { // LCP echoes may come in meanwhile
		t.Errorf("%d packets injected by a stranger reached Vi1", got)
	}

	// 2. Spoofed sources from the client, and its own for comparison.
	before = rxPackets(t, lns, "Vi1")
	var spoofed []byte
	for _, src := range []string{"198.19.1.19", "198.19.0.1", "198.19.200.1"} {
		for range 10 {
			spoofed = ipUDP(src, "198.19.0.1")
			sendRawIP(t, lac, spoofed)
		}
	}
	time.Sleep(500 * time.Millisecond)
	if got := rxPackets(t, lns, "Vi1") - before; got > 2 {
		t.Errorf("%d packets with sources the client does not own reached Vi1", got)
	}
	before = rxPackets(t, lns, "Vi1")
	for range 10 {
		sendRawIP(t, lac, ipUDP(client, "198.19.0.1"))
	}
	waitFor(t, "the client's own packets on Vi1", func() bool { return rxPackets(t, lns, "Vi1")-before >= 10 })

	// 3. The session's counters count its data.
	transferTCP(t, lac, lns, "198.19.0.1:5001", 2<<20)
	all := lnsD.show("show", "l2tun", "session", "all")
	rx := 0
	for _, line := range strings.Split(all, "\n") {
		if f := strings.Fields(line); len(f) >= 5 && f[1] == "Packets" && f[2] == "sent," {
			rx, _ = strconv.Atoi(f[3])
		}
	}
	if rx < 1000 {
		t.Errorf("after a 2 MB transfer the session counts %d packets received:\n%s", rx, all)
	}
}

const seqLNS = `hostname LNS
username lac1 password 0 lacpass
vpdn enable
vpdn l2tp listen 198.18.0.2:1701
vpdn-group REMOTE
 accept-dialin
  protocol l2tp
  virtual-template 1
interface Loopback0
 ip address 198.19.0.1 255.255.255.255
interface Virtual-Template1
 ip unnumbered Loopback0
 keepalive 1
 peer default ip address pool REMOTE
 ppp authentication chap
ip local pool REMOTE 198.19.1.10 198.19.1.20
`

const seqLAC = `hostname LAC
vpdn l2tp listen 198.18.0.1:1701
l2tp-class lns
 hostname LAC
pseudowire-class pw
 encapsulation l2tpv2
 protocol l2tpv2 lns
 sequencing both
interface Virtual-PPP1
 ip address negotiated
 keepalive 1
 ppp chap hostname lac1
 ppp chap password 0 lacpass
 pseudowire 198.18.0.2 1 pw-class pw
ip route 198.19.0.0 255.255.255.0 Virtual-PPP1
`

// TestSequencingKeepsKeepalives: with sequencing on, the PPP keepalives
// and the IP of a session take their Ns from one counter. They took them
// from two: once IP had moved ahead, the peer dropped every LCP echo as
// out of order and the session died on keepalive (here after 5 s).
func TestSequencingKeepsKeepalives(t *testing.T) {
	lab := nstest.New(t)
	lac, lns := lab.NS("lac"), lab.NS("lns")
	lab.Link(lac, lns, mustPrefix("198.18.0.1/24"), mustPrefix("198.18.0.2/24"))
	lnsD, lacD := serveIn(t, lab, lns, "LNS", seqLNS), serveIn(t, lab, lac, "LAC", seqLAC)
	waitFor(t, "Vp1 with a pool address on the LAC", func() bool {
		out, _ := lac.IP("-4", "addr", "show", "dev", "Vp1")
		return strings.Contains(string(out), "inet 198.19.1.")
	})
	if s := lnsD.show("show", "l2tun", "session", "all"); !strings.Contains(s, "Sequencing is on") {
		t.Fatalf("sequencing is not on:\n%s", s)
	}
	_, first := lnsSession(t, lnsD)
	transferTCP(t, lac, lns, "198.19.0.1:5001", 4<<20)
	time.Sleep(8 * time.Second) // eight keepalive periods, five misses kill
	if out, err := lac.Run(10*time.Second, "ping", "-c", "2", "-W", "2", "198.19.0.1"); err != nil {
		t.Fatalf("ping after the keepalive periods: %v\n%s\nLAC:\n%s", err, out, lacD.logs)
	}
	if _, now := lnsSession(t, lnsD); now != first {
		t.Errorf("the session was replaced (%d, then %d): it died on keepalive", first, now)
	}
}
