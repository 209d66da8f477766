package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/nstest"
	"github.com/vpdn/vpdn/netif"
)

// TestL2TPv3ManualXconnect: document 004's manual pseudowire between R5
// and R9 (its two configurations, addresses mapped into the lab: R5's
// underlay 198.18.1.5, R9's 198.18.1.9, the 192.168.1.0/24 LAN as
// 198.19.1.0/24), each PE's LAN side a veth into a host's namespace. The
// two hosts become one broadcast domain: ARP resolves across, ping and a
// TCP transfer go. Over IP protocol 115 as written, and the same over UDP
// (ip protocol udp). tshark decodes every captured L2TPv3 packet, with the
// 4-byte cookie set in its preferences, without a malformed one.
func TestL2TPv3ManualXconnect(t *testing.T) {
	for _, tc := range []struct {
		name, extra, filter, transport string
		// wire: the class sets ip tos value 184, ip ttl 17 and ip dfbit
		// set, read back off the wire; full-size frames then exceed the
		// underlay's MTU with DF set, so only small packets cross.
		wire bool
	}{
		{"ip", "", "ip proto 115", "IP protocol 115", false},
		{"udp", " ip protocol udp\n", "udp port 1701", "UDP port 1701", false},
		{"ip-tos-ttl-df", " ip tos value 184\n ip ttl 17\n ip dfbit set\n", "ip proto 115", "IP protocol 115", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lab := nstest.New(t)
			h7, r5, r9, h10 := lab.NS("h7"), lab.NS("r5"), lab.NS("r9"), lab.NS("h10")
			h7dev, r5lan := lab.Link(h7, r5, mustPrefix("198.19.1.7/24"), mustPrefix("198.19.1.254/24"))
			h10dev, r9lan := lab.Link(h10, r9, mustPrefix("198.19.1.10/24"), mustPrefix("198.19.1.253/24"))
			r5wan, r9wan := lab.Link(r5, r9, mustPrefix("198.18.1.5/24"), mustPrefix("198.18.1.9/24"))
			// "no ip address" on the attachment circuits.
			r5.MustIP("addr", "flush", "dev", r5lan)
			r9.MustIP("addr", "flush", "dev", r9lan)
			// The hosts' veths keep their offloads: TCP super-frames and
			// checksums left to "hardware" reach the pseudowire's packet
			// socket with their virtio_net_hdr, and it cuts and completes
			// them.
			capture := lab.Capture(r5, r5wan, tc.filter)
			lab.SegmentOnWire(r9, r9wan)

			read := func(name string) string {
				b, err := os.ReadFile("../../config/testdata/docs/" + name)
				if err != nil {
					t.Fatal(err)
				}
				return string(b)
			}
			withClass := func(cfg string) string {
				return strings.Replace(cfg, " ip pmtu\n", " ip pmtu\n"+tc.extra, 1)
			}
			r5cfg := "hostname R5\n" + withClass(strings.ReplaceAll(read("004-l2tpv3-manual-r5.cfg"), "44.1.1.9", "198.18.1.9")) +
				"interface GigabitEthernet0/0\n linux-device " + r5lan + "\ninterface GigabitEthernet1/0\n linux-device " + r5wan + "\n"
			r9cfg := "hostname R9\n" + withClass(strings.ReplaceAll(read("004-l2tpv3-manual-r9.cfg"), "55.1.1.1", "198.18.1.5")) +
				"interface GigabitEthernet1/0\n linux-device " + r9lan + "\ninterface GigabitEthernet0/0\n linux-device " + r9wan + "\n"
			d5 := serveIn(t, lab, r5, "R5", r5cfg)
			d9 := serveIn(t, lab, r9, "R9", r9cfg)
			d5.waitUp(t)
			d9.waitUp(t)

			if out, err := h7.Run(20*time.Second, "ping", "-c", "3", "-W", "2", "198.19.1.10"); err != nil {
				t.Fatalf("ping across the pseudowire: %v\n%s\nR5:\n%s", err, out, d5.show("show", "l2tp", "session", "all"))
			}
			if out, _ := h7.IP("neigh", "show", "198.19.1.10"); !strings.Contains(string(out), "lladdr") {
				t.Errorf("no ARP entry for the far host: %s", out)
			}
			if tc.wire {
				// 1472 octets of ICMP make a 1514-octet frame: with its
				// 28 octets of IP and L2TPv3 the datagram exceeds the
				// underlay's 1500 and DF forbids fragmenting it.
				if out, err := h7.Run(10*time.Second, "ping", "-c", "1", "-W", "2", "-s", "1472", "198.19.1.10"); err == nil {
					t.Errorf("a 1514-octet frame crossed with DF set:\n%s", out)
				}
				if out, err := h7.Run(10*time.Second, "ping", "-c", "2", "-W", "2", "-s", "1400", "198.19.1.10"); err != nil {
					t.Errorf("a 1442-octet frame did not cross: %v\n%s", err, out)
				}
			} else {
				transferTCP(t, h10, h7, "198.19.1.7:5001", 8<<20)
				vlanAcross(t, h7, h10, h7dev, h10dev)
			}

			all := d5.show("show", "l2tp", "session", "all")
			for _, want := range []string{"Session id 1 is up", "Remote session id is 2", "Session is manually signaled",
				tc.transport, "type is Ethernet, name is GigabitEthernet0/0", "Session vcid is 1", "Internet address is 198.18.1.9",
				"Internet address is 198.18.1.5", "local cookie, size 4 bytes, value 00 00 D7 47",
				"remote cookie, size 4 bytes, value 00 00 AC 57", "wrong cookie:             0"} {
				if !strings.Contains(all, want) {
					t.Errorf("show l2tp session all on R5 lacks %q:\n%s", want, all)
				}
			}
			if strings.Contains(all, " 0 Packets sent") || strings.Contains(all, " 0 received\n") {
				t.Errorf("counters do not count the data:\n%s", all)
			}
			sum := d9.show("show", "l2tun", "session")
			if !strings.Contains(sum, "Total tunnels 0 sessions 1") || !strings.Contains(sum, "2          1          n/a        1, Gi1/0") {
				t.Errorf("show l2tun session on R9:\n%s", sum)
			}
			xc := d9.show("show", "xconnect", "all")
			if !strings.Contains(xc, "UP     pri:Gi1/0(Ethernet)") || !strings.Contains(xc, "l2tp 198.18.1.5:1") {
				t.Errorf("show xconnect all on R9:\n%s", xc)
			}
			t.Logf("R5:\n%s\nR9:\n%s", all, xc)
			if v := d5.show("show", "vpdn"); !strings.Contains(v, "No active L2TP tunnels") {
				t.Errorf("show vpdn with a manual pseudowire:\n%s", v)
			}
			if capture != nil {
				capture.Stop()
				prefs := []string{"-o", "l2tp.cookie_size:4 Byte Cookie", "-o", "l2tp.l2_specific:None"}
				if tc.name == "udp" {
					prefs = append(prefs, "-d", "udp.port==1701,l2tp")
				}
				bad, err := nstest.ProblemsWith(capture.Path, prefs...)
				if err != nil || len(bad) > 0 {
					t.Errorf("tshark: %v %v", bad, err)
				}
				v3, _ := nstest.DecodeWith(capture.Path, "l2tp.sid && l2tp.cookie", prefs, "l2tp.sid", "l2tp.cookie")
				if tc.wire {
					// Every L2TPv3 packet R5 sent carries the class's
					// ToS, TTL and DF.
					out, _ := nstest.DecodeWith(capture.Path, "l2tp.sid == 2 && ip.src == 198.18.1.5", prefs, "ip.dsfield", "ip.ttl", "ip.flags.df")
					if len(out) < 5 {
						t.Errorf("capture: %d packets from R5", len(out))
					}
					for _, l := range out {
						if f := strings.Fields(l); len(f) != 3 || f[0] != "0xb8" || f[1] != "17" || (f[2] != "1" && f[2] != "True") {
							t.Errorf("R5's packet carries ToS/TTL/DF %q, want 0xb8 17 set", l)
							break
						}
					}
					t.Logf("R5's L2TPv3 packets: ToS/TTL/DF %v", out[:min(1, len(out))])
				} else if len(v3) < 100 {
					t.Errorf("capture: %d L2TPv3 data packets with a cookie", len(v3))
				}
				t.Logf("capture: %d L2TPv3 data packets, first %v, no malformed packet", len(v3), v3[:min(2, len(v3))])
				if big, _ := nstest.DecodeWith(capture.Path, "ip.len > 1500", prefs, "ip.src"); len(big) > 0 {
					t.Errorf("capture: %d datagrams beyond 1500 octets on the wire", len(big))
				}
			}
			for _, d := range []*served{d5, d9} {
				if err := d.stop(); err != nil {
					t.Errorf("%s: %v", d.name, err)
				}
			}
		})
	}
}

// vlanAcross: an 802.1Q-tagged frame crosses the pseudowire tagged (an
// Ethernet pseudowire is port mode, RFC 4719 §4), though each PE's veth
// strips tags into metadata (rx-vlan offload). This kernel has no 8021q
// module, so the hosts send and read the frame through packet sockets.
func vlanAcross(t *testing.T, from, to *nstest.NS, fromDev, toDev string) {
	t.Helper()
	var rx *netif.Packet
	if err := to.Do(func() (err error) { rx, err = netif.OpenPacket(toDev); return err }); err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	frame := []byte{0x02, 0, 0x5e, 0, 0, 0x0a, 0x02, 0, 0x5e, 0, 0, 0x07, 0x81, 0x00, 0x00, 0x0a, 0x88, 0xb5}
	frame = append(frame, "tagged across the pseudowire"...)
	var hdr [netif.VnetHdrLen]byte
	err := from.Do(func() error {
		tx, err := netif.OpenPacket(fromDev)
		if err != nil {
			return err
		}
		defer tx.Close()
		_, err = tx.Write(append(hdr[:], frame...))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		n, err := rx.TryRead(buf)
		if err != nil {
			continue
		}
		if f := buf[netif.VnetHdrLen:n]; len(f) >= 18 && f[16] == 0x88 && f[17] == 0xb5 {
			if !bytes.Equal(f, frame) {
				t.Fatalf("tagged frame arrived as %x, want %x", f, frame)
			}
			t.Logf("an 802.1Q frame (VLAN 10) crossed tagged")
			return
		}
	}
	t.Fatal("the tagged frame did not cross")
}

// TestL2TPv3VLANXconnect: the Ethernet VLAN pseudowire (RFC 4719 §4.2):
// R5's xconnect on subinterface GigabitEthernet0/0.10 (encapsulation
// dot1Q 10), R9's on GigabitEthernet1/0.20 (dot1Q 20), the parents' Linux
// devices the LAN veths. A frame h7 sends on VLAN 10 reaches h10 on VLAN
// 20 (the tag carried, its VLAN ID rewritten at the egress); frames of
// another VLAN and untagged frames are not carried. show names the
// circuit "Ethernet VLAN".
func TestL2TPv3VLANXconnect(t *testing.T) {
	lab := nstest.New(t)
	h7, r5, r9, h10 := lab.NS("h7"), lab.NS("r5"), lab.NS("r9"), lab.NS("h10")
	h7dev, r5lan := lab.Link(h7, r5, mustPrefix("198.19.1.7/24"), mustPrefix("198.19.1.254/24"))
	h10dev, r9lan := lab.Link(h10, r9, mustPrefix("198.19.1.10/24"), mustPrefix("198.19.1.253/24"))
	r5wan, r9wan := lab.Link(r5, r9, mustPrefix("198.18.1.5/24"), mustPrefix("198.18.1.9/24"))
	r5.MustIP("addr", "flush", "dev", r5lan)
	r9.MustIP("addr", "flush", "dev", r9lan)
	pe := func(name, lan, wan, sub string, vlan int, local, peer string, lid, rid int, lc, rc int) string {
		return fmt.Sprintf(`hostname %s
pseudowire-class VLAN
 encapsulation l2tpv3
 protocol none
 ip local interface %s
interface %s
 linux-device %s
interface %s
 linux-device %s
interface %s
 encapsulation dot1Q %d
 xconnect %s 7 encapsulation l2tpv3 manual pw-class VLAN
  l2tp id %d %d
  l2tp cookie local 4 %d
  l2tp cookie remote 4 %d
`, name, wan, wan, local, strings.TrimSuffix(sub, sub[strings.IndexByte(sub, '.'):]), lan, sub, vlan, peer, lid, rid, lc, rc)
	}
	cfg5 := pe("R5", r5lan, "GigabitEthernet1/0", "GigabitEthernet0/0.10", 10, r5wan, "198.18.1.9", 1, 2, 55111, 44119)
	cfg9 := pe("R9", r9lan, "GigabitEthernet0/0", "GigabitEthernet1/0.20", 20, r9wan, "198.18.1.5", 2, 1, 44119, 55111)
	d5 := serveIn(t, lab, r5, "R5", cfg5)
	d9 := serveIn(t, lab, r9, "R9", cfg9)
	d5.waitUp(t)
	d9.waitUp(t)
	waitFor(t, "both pseudowires up", func() bool {
		return strings.Contains(d5.show("show", "xconnect", "all"), "UP     pri:Gi0/0.10") &&
			strings.Contains(d9.show("show", "xconnect", "all"), "UP     pri:Gi1/0.20")
	})
	var rx *netif.Packet
	if err := h10.Do(func() (err error) { rx, err = netif.OpenPacket(h10dev); return err }); err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	frame := func(tag []byte, text string) []byte {
		f := append([]byte{0x02, 0, 0x5e, 0, 0, 0x0a, 0x02, 0, 0x5e, 0, 0, 0x07}, tag...)
		return append(append(f, 0x88, 0xb5), text...)
	}
	var hdr [netif.VnetHdrLen]byte
	err := h7.Do(func() error {
		tx, err := netif.OpenPacket(h7dev)
		if err != nil {
			return err
		}
		defer tx.Close()
		for _, f := range [][]byte{frame([]byte{0x81, 0, 0, 30}, "vlan 30"), frame(nil, "untagged"), frame([]byte{0x81, 0, 0x20, 10}, "vlan 10")} {
			if _, err := tx.Write(append(hdr[:], f...)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := frame([]byte{0x81, 0, 0x20, 20}, "vlan 10") // priority 1 kept, VLAN 10 rewritten to 20
	buf := make([]byte, 4096)
	var got [][]byte
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		n, err := rx.TryRead(buf)
		if err != nil {
			continue
		}
		if f := buf[netif.VnetHdrLen:n]; bytes.Contains(f, []byte("vlan ")) || bytes.Contains(f, []byte("untagged")) {
			got = append(got, append([]byte(nil), f...))
		}
	}
	if len(got) != 1 || !bytes.Equal(got[0], want) {
		t.Fatalf("h10 read %x, want only %x", got, want)
	}
	all := d9.show("show", "l2tp", "session", "all")
	if !strings.Contains(all, "type is Ethernet VLAN, name is GigabitEthernet1/0.20") {
		t.Errorf("show l2tp session all on R9:\n%s", all)
	}
}

// TestL2TPv3Dynamic: dynamic pseudowires, vpdn to vpdn, signalled by an
// L2TPv3 control connection with SHA-1 message digests: an Ethernet
// pseudowire (VCID 100, port mode) and an Ethernet VLAN one (VCID 200,
// subinterfaces on dot1Q 10 and 20) share one control connection. Over
// IP protocol 115, then over UDP, in one lab: ARP, ping and TCP across
// the Ethernet pseudowire, a tagged frame across the VLAN one, and
// tshark decodes every L2TPv3 packet, control and data, without a
// malformed one.
func TestL2TPv3Dynamic(t *testing.T) {
	lab := nstest.New(t)
	h7, r5, r9, h10 := lab.NS("h7"), lab.NS("r5"), lab.NS("r9"), lab.NS("h10")
	h7dev, r5lan := lab.Link(h7, r5, mustPrefix("198.19.1.7/24"), mustPrefix("198.19.1.254/24"))
	_, r9lan := lab.Link(h10, r9, mustPrefix("198.19.1.10/24"), mustPrefix("198.19.1.253/24"))
	h7v, r5v := lab.Link(h7, r5, mustPrefix("198.19.2.7/24"), mustPrefix("198.19.2.254/24"))
	h10v, r9v := lab.Link(h10, r9, mustPrefix("198.19.2.10/24"), mustPrefix("198.19.2.253/24"))
	r5wan, r9wan := lab.Link(r5, r9, mustPrefix("198.18.1.5/24"), mustPrefix("198.18.1.9/24"))
	for _, x := range []struct {
		ns  *nstest.NS
		dev string
	}{{r5, r5lan}, {r9, r9lan}, {r5, r5v}, {r9, r9v}} {
		x.ns.MustIP("addr", "flush", "dev", x.dev)
	}
	pe := func(name, wan, lan, vdev, sub string, vlan int, peer, proto string) string {
		return fmt.Sprintf(`hostname %s
l2tp-class CTL
 digest secret 0 s3cret hash sha
 hello 10
pseudowire-class DYN
 encapsulation l2tpv3
 protocol l2tpv3 CTL
 ip local interface GigabitEthernet9/0
%sinterface GigabitEthernet9/0
 linux-device %s
interface GigabitEthernet0/0
 no ip address
 linux-device %s
 xconnect %s 100 encapsulation l2tpv3 pw-class DYN
interface GigabitEthernet1/0
 linux-device %s
interface GigabitEthernet1/0.%s
 encapsulation dot1Q %d
 xconnect %s 200 encapsulation l2tpv3 pw-class DYN
`, name, proto, wan, lan, peer, vdev, sub, vlan, peer)
	}
	for _, tc := range []struct{ name, proto, filter string }{
		{"ip", "", "ip proto 115"},
		{"udp", " ip protocol udp\n", "udp port 1701"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			capture := lab.Capture(r5, r5wan, tc.filter)
			d5 := serveIn(t, lab, r5, "R5", pe("R5", r5wan, r5lan, r5v, "10", 10, "198.18.1.9", tc.proto))
			d9 := serveIn(t, lab, r9, "R9", pe("R9", r9wan, r9lan, r9v, "20", 20, "198.18.1.5", tc.proto))
			d5.waitUp(t)
			d9.waitUp(t)
			waitFor(t, "both pseudowires up on both PEs", func() bool {
				a, b := d5.show("show", "xconnect", "all"), d9.show("show", "xconnect", "all")
				return strings.Count(a, "UP     pri") == 2 && strings.Count(b, "UP     pri") == 2
			})
			if out, err := h7.Run(20*time.Second, "ping", "-c", "3", "-W", "2", "198.19.1.10"); err != nil {
				t.Fatalf("ping across the pseudowire: %v\n%s\nR5:\n%s", err, out, d5.show("show", "l2tp", "session", "all"))
			}
			if out, _ := h7.IP("neigh", "show", "198.19.1.10"); !strings.Contains(string(out), "lladdr") {
				t.Errorf("no ARP entry for the far host: %s", out)
			}
			if !vlanAcrossRewritten(t, h7, h10, h7v, h10v) {
				t.Errorf("the VLAN frame did not cross:\nR5:\n%s\nR9:\n%s", d5.show("show", "l2tp", "session", "all"), d9.show("show", "l2tp", "session", "all"))
			}
			transferTCP(t, h10, h7, "198.19.1.7:5001", 4<<20)
			if !vlanAcrossRewritten(t, h7, h10, h7v, h10v) {
				t.Errorf("the VLAN frame did not cross after the TCP transfer:\nR5:\n%s\nR9:\n%s", d5.show("show", "l2tp", "session", "all"), d9.show("show", "l2tp", "session", "all"))
			}

			all := d5.show("show", "l2tp", "session", "all")
			for _, want := range []string{"Session is L2TP signaled", "type is Ethernet, name is GigabitEthernet0/0",
				"type is Ethernet VLAN, name is GigabitEthernet1/0.10", "Session vcid is 100", "Session vcid is 200",
				"local cookie, size 4 bytes", "remote cookie, size 4 bytes"} {
				if !strings.Contains(all, want) {
					t.Errorf("show l2tp session all on R5 lacks %q:\n%s", want, all)
				}
			}
			tun := d9.show("show", "l2tun", "tunnel", "all")
			for _, want := range []string{"2 active sessions", "Remote tunnel name is R5", "Control message authentication is sha1",
				"Protocol version 3 (L2TPv3), remote router ID 198.18.1.5"} {
				if !strings.Contains(tun, want) {
					t.Errorf("show l2tun tunnel all on R9 lacks %q:\n%s", want, tun)
				}
			}
			if c := d5.show("show", "l2tp", "counters"); !strings.Contains(c, "v3-digest-failed") {
				t.Errorf("show l2tp counters:\n%s", c)
			}
			// The attachment circuit goes down (h7 takes its end of the
			// veth down: R5's device loses its carrier): R5 says so by
			// SLI with Circuit Status (§5.4.5) and R9 shows the remote
			// circuit down; and up again.
			h7.MustIP("link", "set", h7dev, "down")
			waitFor(t, "R9 to see R5's circuit down", func() bool {
				return strings.Contains(d9.show("show", "l2tp", "session", "all"), "Remote circuit state is DOWN")
			})
			if x := d5.show("show", "xconnect", "all"); !strings.Contains(x, "DN     pri:Gi0/0(Ethernet)") {
				t.Errorf("show xconnect all on R5 with the circuit down:\n%s", x)
			}
			h7.MustIP("link", "set", h7dev, "up")
			waitFor(t, "R9 to see R5's circuit up again", func() bool {
				return !strings.Contains(d9.show("show", "l2tp", "session", "all"), "Remote circuit state is DOWN")
			})
			t.Logf("R5:\n%s\nR9:\n%s", all, tun)
			for _, d := range []*served{d5, d9} {
				if err := d.stop(); err != nil {
					t.Errorf("%s: %v", d.name, err)
				}
			}
			if capture != nil {
				capture.Stop()
				prefs := []string{"-o", "l2tp.cookie_size:4 Byte Cookie", "-o", "l2tp.l2_specific:None"}
				if tc.name == "udp" {
					prefs = append(prefs, "-d", "udp.port==1701,l2tp")
				}
				bad, err := nstest.ProblemsWith(capture.Path, prefs...)
				if err != nil || len(bad) > 0 {
					t.Errorf("tshark: %v %v", bad, err)
				}
				ctl, _ := nstest.DecodeWith(capture.Path, "l2tp.avp.message_type", prefs, "l2tp.avp.message_type")
				data, _ := nstest.DecodeWith(capture.Path, "l2tp.sid && l2tp.cookie", prefs, "l2tp.sid")
				if len(ctl) < 8 || len(data) < 100 {
					t.Errorf("capture: %d control messages, %d data packets", len(ctl), len(data))
				}
				t.Logf("capture: %d L2TPv3 control messages (%v), %d data packets, no malformed packet", len(ctl), ctl[:min(8, len(ctl))], len(data))
			}
		})
	}
}

// vlanAcrossRewritten: a frame h7 sends on VLAN 10 reaches h10 on VLAN 20
// across the Ethernet VLAN pseudowire (the egress rewrites the VLAN ID).
func vlanAcrossRewritten(t *testing.T, from, to *nstest.NS, fromDev, toDev string) bool {
	t.Helper()
	var rx *netif.Packet
	if err := to.Do(func() (err error) { rx, err = netif.OpenPacket(toDev); return err }); err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	frame := func(tag []byte) []byte {
		f := append([]byte{0x02, 0, 0x5e, 0, 0, 0x0a, 0x02, 0, 0x5e, 0, 0, 0x07}, tag...)
		return append(append(f, 0x88, 0xb5), "dynamic vlan"...)
	}
	var hdr [netif.VnetHdrLen]byte
	err := from.Do(func() error {
		tx, err := netif.OpenPacket(fromDev)
		if err != nil {
			return err
		}
		defer tx.Close()
		_, err = tx.Write(append(hdr[:], frame([]byte{0x81, 0, 0, 10})...))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := frame([]byte{0x81, 0, 0, 20})
	buf := make([]byte, 4096)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		n, err := rx.TryRead(buf)
		if err != nil {
			continue
		}
		if f := buf[netif.VnetHdrLen:n]; bytes.Contains(f, []byte("dynamic vlan")) {
			if !bytes.Equal(f, want) {
				t.Fatalf("VLAN frame arrived as %x, want %x", f, want)
			}
			return true
		}
	}
	return false
}
