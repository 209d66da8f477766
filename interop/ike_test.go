package interop

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/clock"
	"github.com/vpdn/vpdn/internal/nstest"
	"github.com/vpdn/vpdn/proto/ike"
	"github.com/vpdn/vpdn/wire/isakmp"
)

// IKEv1 (main, aggressive and quick mode with a pre-shared key) between
// vpdn's proto/ike, driven by a small UDP loop in the test, and
// strongSwan's charon (charon-systemd with kernel-libipsec, configured
// through swanctl; recipe in shared/INTEROP.md). Only IKE is checked:
// both sides must agree on the SAs and their SPIs; ESP is another
// package's.

const ikePSK = "interop-psk-1"

var (
	vpdnNet = netip.MustParsePrefix("198.19.1.0/24")
	peerNet = netip.MustParsePrefix("198.19.2.0/24")
)

// charon is a running strongSwan with its vici socket.
type charon struct {
	dir, uri string
	ns       *nstest.NS
}

func (c *charon) swanctl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := c.ns.Run(30*time.Second, "swanctl", append(args, "--uri", c.uri)...)
	if err != nil {
		t.Fatalf("swanctl %v: %v\n%s\ncharon log:\n%s", args, err, out, c.log())
	}
	return string(out)
}

func (c *charon) log() string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "charon.log"))
	return string(b)
}

// startCharon runs charon-systemd in ns with conn as its swanctl
// connection and waits (bounded) until swanctl has loaded it.
func startCharon(t *testing.T, lab *nstest.Lab, ns *nstest.NS, conn string) *charon {
	t.Helper()
	return startCharonPlugins(t, lab, ns, conn, "")
}

// startCharonPlugins is startCharon with more plugins loaded (e.g.
// xauth-generic for an XAuth client).
func startCharonPlugins(t *testing.T, lab *nstest.Lab, ns *nstest.NS, conn, plugins string) *charon {
	t.Helper()
	if _, err := os.Stat("/usr/sbin/charon-systemd"); err != nil {
		if os.Getenv("VPDN_REQUIRE_PEERS") == "1" {
			t.Fatal("charon-systemd not installed")
		}
		t.Skip("charon-systemd not installed")
	}
	// A plugin charon cannot load is only a line in its log, and the
	// exchange then fails for a reason that names no package: say which.
	for _, p := range strings.Fields(plugins) {
		if _, err := os.Stat("/usr/lib/ipsec/plugins/libstrongswan-" + p + ".so"); err != nil {
			if os.Getenv("VPDN_REQUIRE_PEERS") == "1" {
				t.Fatalf("strongSwan plugin %s not installed (xauth-generic is in libcharon-extauth-plugins; see .ci/peers-packages.txt)", p)
			}
			t.Skipf("strongSwan plugin %s not installed", p)
		}
	}
	dir := t.TempDir()
	c := &charon{dir: dir, uri: "unix://" + filepath.Join(dir, "charon.vici"), ns: ns}
	// charon-systemd reads its own section; the same settings go under
	// charon too, where the plugins look.
	body := fmt.Sprintf(`
  load_modular = no
  load = random nonce openssl aes sha1 sha2 md5 hmac gmp kdf pem pkcs1 x509 pubkey kernel-libipsec kernel-netlink socket-default vici updown %[3]s
  install_routes = no
  i_dont_care_about_security_and_use_aggressive_mode_psk = yes
  retransmit_tries = 3
  filelog {
    log { path = %[1]s/charon.log
          flush_line = yes
          default = 1
          ike = 2
          cfg = 2 }
  }
  plugins { vici { socket = %[2]s } }
`, dir, c.uri, plugins)
	conf := "charon-systemd {\n  journal { default = -1 }" + body + "}\ncharon {" + body + "}\n"
	if err := os.WriteFile(filepath.Join(dir, "strongswan.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "swanctl.conf"), []byte(conn), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := ns.Command("/usr/sbin/charon-systemd")
	cmd.Env = append(os.Environ(), "STRONGSWAN_CONF="+filepath.Join(dir, "strongswan.conf"))
	if err := lab.Start(cmd); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if _, err := os.Stat(filepath.Join(dir, "charon.vici")); err == nil {
			break
		}
		if i == 100 {
			t.Fatalf("charon did not open its vici socket in 10 s; log:\n%s", c.log())
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.swanctl(t, "--load-all", "--file", filepath.Join(dir, "swanctl.conf"))
	return c
}

// ikeNode is proto/ike on a UDP socket in vpdn's namespace.
type ikeNode struct {
	*ike.Node
	events chan ike.Event
	logs   *nstest.SyncBuffer
}

func startIKE(t *testing.T, ns *nstest.NS, cfg ike.Config) *ikeNode {
	t.Helper()
	local := netip.AddrPortFrom(vpdnAddr, 500)
	var conn, natt *net.UDPConn
	if err := ns.Do(func() (err error) {
		if conn, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(local)); err != nil {
			return err
		}
		natt, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(vpdnAddr, 4500)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	v := &ikeNode{events: make(chan ike.Event, 64), logs: &nstest.SyncBuffer{}}
	cfg.Local = local
	cfg.Clock = clock.Real
	cfg.Log = slog.New(slog.NewTextHandler(v.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// The socket side of NAT-T (RFC 3948 §2.2): on port 4500 IKE carries
	// a 4-octet zero non-ESP marker.
	cfg.Send = func(b []byte, to netip.AddrPort) {
		if to.Port() == 4500 {
			natt.WriteToUDPAddrPort(append([]byte{0, 0, 0, 0}, b...), to)
			return
		}
		conn.WriteToUDPAddrPort(b, to)
	}
	cfg.OnEvent = func(e ike.Event) {
		select {
		case v.events <- e:
		default:
		}
	}
	if cfg.Key == nil {
		cfg.Key = func(netip.Addr, []byte) []byte { return []byte(ikePSK) }
	}
	n, err := ike.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	v.Node = n
	var wg sync.WaitGroup
	for _, c := range []*net.UDPConn{conn, natt} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 65536)
			for {
				k, from, err := c.ReadFromUDPAddrPort(buf)
				if err != nil {
					if errors.Is(err, net.ErrClosed) {
						return
					}
					continue
				}
				b := buf[:k]
				if c == natt {
					if k < 4 || !bytes.Equal(b[:4], []byte{0, 0, 0, 0}) {
						continue // ESP, not ours; or a keepalive
					}
					b = b[4:]
				}
				n.HandlePacket(b, from)
			}
		}()
	}
	t.Cleanup(func() {
		n.Close()
		conn.Close()
		natt.Close()
		wg.Wait()
		if t.Failed() {
			t.Logf("vpdn log:\n%s", v.logs.String())
		}
	})
	return v
}

// waitEvent waits, at most 30 s, for an event of kind k.
func (v *ikeNode) waitEvent(t *testing.T, k ike.EventKind, c *charon) ike.Event {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case e := <-v.events:
			if e.Kind == k {
				return e
			}
			if e.Kind == ike.EventChildFailed || e.Kind == ike.EventPhase1Down {
				t.Fatalf("%v: %s (%v)\ncharon log:\n%s", e.Kind, e.Reason, e.Notify, c.log())
			}
		case <-deadline:
			t.Fatalf("no %v in 30 s\ncharon log:\n%s", k, c.log())
		}
	}
}

type ikeSuite struct {
	name       string
	p1         ike.Policy
	ts         ike.TransformSet
	pfs        ike.Group
	ike, esp   string // strongSwan's proposals
	aggressive bool
}

var ikeSuites = []ikeSuite{
	{name: "aes256-sha1-modp2048", p1: ike.Policy{Priority: 10, Encryption: ike.CipherAES, KeyBits: 256, Hash: ike.HashSHA1, Group: ike.Group14},
		ts: ike.TransformSet{ESP: isakmp.ESPAES, KeyBits: 256, Auth: isakmp.AuthAlgHMACSHA1}, ike: "aes256-sha1-modp2048", esp: "aes256-sha1"},
	{name: "aes128-sha256-ecp256-pfs", p1: ike.Policy{Priority: 10, Encryption: ike.CipherAES, KeyBits: 128, Hash: ike.HashSHA256, Group: ike.Group19},
		ts: ike.TransformSet{ESP: isakmp.ESPAES, KeyBits: 128, Auth: isakmp.AuthAlgHMACSHA256}, pfs: ike.Group19, ike: "aes128-sha256-ecp256", esp: "aes128-sha256-ecp256"},
	{name: "3des-md5-modp1024", p1: ike.Policy{Priority: 10, Encryption: ike.Cipher3DES, Hash: ike.HashMD5, Group: ike.Group2},
		ts: ike.TransformSet{ESP: isakmp.ESP3DES, Auth: isakmp.AuthAlgHMACMD5}, ike: "3des-md5-modp1024", esp: "3des-md5"},
	{name: "aes192-sha384-ecp384-aggressive", p1: ike.Policy{Priority: 10, Encryption: ike.CipherAES, KeyBits: 192, Hash: ike.HashSHA384, Group: ike.Group20},
		ts: ike.TransformSet{ESP: isakmp.ESPAES, KeyBits: 192, Auth: isakmp.AuthAlgHMACSHA1}, ike: "aes192-sha384-ecp384", esp: "aes192-sha1", aggressive: true},
}

func (s ikeSuite) swanctlConf() string {
	aggr := "no"
	if s.aggressive {
		aggr = "yes"
	}
	return fmt.Sprintf(`connections {
  vpdn {
    version = 1
    aggressive = %s
    local_addrs = %[2]s
    remote_addrs = %[3]s
    proposals = %[4]s
    rekey_time = 0
    local { auth = psk
            id = %[2]s }
    remote { auth = psk
             id = %[3]s }
    children {
      net {
        local_ts = %[5]s
        remote_ts = %[6]s
        esp_proposals = %[7]s
        mode = tunnel
        rekey_time = 0
      }
    }
  }
}
secrets {
  ike-vpdn {
    id-a = %[2]s
    id-b = %[3]s
    secret = "%[8]s"
  }
}
`, aggr, peerAddr, vpdnAddr, s.ike, peerNet, vpdnNet, s.esp, ikePSK)
}

func (s ikeSuite) phase2(local, remote netip.Prefix) *ike.Phase2Policy {
	return &ike.Phase2Policy{TransformSets: []ike.TransformSet{s.ts}, PFS: s.pfs,
		Local: ike.Selector{Prefix: local}, Remote: ike.Selector{Prefix: remote}}
}

var spiRE = regexp.MustCompile(`spi-in=([0-9a-f]+) spi-out=([0-9a-f]+)`)

// checkCharonSA finds the child SA in swanctl's list and compares its SPIs
// with vpdn's.
func checkCharonSA(t *testing.T, c *charon, child *ike.ChildSA) {
	t.Helper()
	out := c.swanctl(t, "--list-sas", "--raw")
	if !strings.Contains(out, "state=ESTABLISHED") || !strings.Contains(out, "state=INSTALLED") {
		t.Fatalf("strongSwan's SAs:\n%s\ncharon log:\n%s", out, c.log())
	}
	m := spiRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no SPIs in:\n%s", out)
	}
	if want := fmt.Sprintf("%08x", child.SPIOut); m[1] != want {
		t.Errorf("strongSwan's inbound SPI %s, vpdn sends with %s", m[1], want)
	}
	if want := fmt.Sprintf("%08x", child.SPIIn); m[2] != want {
		t.Errorf("strongSwan's outbound SPI %s, vpdn receives with %s", m[2], want)
	}
}

func newIKELab(t *testing.T) (*nstest.Lab, *nstest.NS, *nstest.NS, *nstest.Capture) {
	lab := nstest.New(t)
	a, b := lab.NS("vpdn"), lab.NS("swan")
	devA, _ := lab.Link(a, b, netip.PrefixFrom(vpdnAddr, 24), netip.PrefixFrom(peerAddr, 24))
	// kernel-libipsec routes the protected network through its TUN with a
	// source address inside its own traffic selector: give it one.
	b.MustIP("addr", "add", "198.19.2.1/32", "dev", "lo")
	return lab, a, b, lab.Capture(a, devA, "udp port 500 or udp port 4500")
}

// checkIKECapture fails on anything tshark finds malformed in what vpdn
// sent, and returns the exchange types vpdn sent.
func checkIKECapture(t *testing.T, c *nstest.Capture) []string {
	t.Helper()
	if c == nil {
		return nil
	}
	c.Stop()
	if dir := os.Getenv("VPDN_KEEP_PCAP"); dir != "" {
		if b, err := os.ReadFile(c.Path); err == nil {
			os.WriteFile(filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+".pcap"), b, 0o644)
		}
	}
	ours := fmt.Sprintf("ip.src == %s", vpdnAddr)
	bad, err := nstest.Decode(c.Path, ours+" && (_ws.malformed || _ws.expert.severity >= error)")
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) > 0 {
		t.Errorf("tshark finds problems in what vpdn sent:\n%s", strings.Join(bad, "\n"))
	}
	ex, err := nstest.Decode(c.Path, ours+" && isakmp", "isakmp.exchangetype")
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

// TestIKEv1StrongSwanInitiator: vpdn initiates main (or aggressive) mode
// and quick mode to charon.
func TestIKEv1StrongSwanInitiator(t *testing.T) {
	for _, s := range ikeSuites {
		t.Run(s.name, func(t *testing.T) {
			lab, a, b, capture := newIKELab(t)
			c := startCharon(t, lab, b, s.swanctlConf())
			v := startIKE(t, a, ike.Config{Policies: []ike.Policy{s.p1}, Aggressive: s.aggressive})
			if err := v.Initiate(netip.AddrPortFrom(peerAddr, 500), s.phase2(vpdnNet, peerNet)); err != nil {
				t.Fatal(err)
			}
			e := v.waitEvent(t, ike.EventChildUp, c)
			checkCharonSA(t, c, e.Child)
			if st := v.Phase1(); len(st) != 1 || st[0].State != "QM_IDLE" {
				t.Errorf("show crypto isakmp sa: %+v", st)
			}
			ex := checkIKECapture(t, capture)
			want := "2"
			if s.aggressive {
				want = "4"
			}
			if len(ex) < 2 || ex[0] != want || !bytes.Contains([]byte(strings.Join(ex, ",")), []byte("32")) {
				t.Errorf("vpdn sent exchanges %v", ex)
			}
		})
	}
}

// TestIKEv1StrongSwanResponder: charon initiates; vpdn answers with its
// policies and crypto map.
func TestIKEv1StrongSwanResponder(t *testing.T) {
	for _, s := range ikeSuites {
		t.Run(s.name, func(t *testing.T) {
			lab, a, b, capture := newIKELab(t)
			c := startCharon(t, lab, b, s.swanctlConf())
			v := startIKE(t, a, ike.Config{Policies: []ike.Policy{s.p1}, AcceptAggressive: s.aggressive,
				Phase2: func(_ netip.AddrPort, _ string, l, r ike.Selector) *ike.Phase2Policy {
					if l.Prefix != vpdnNet || r.Prefix != peerNet {
						return nil
					}
					return s.phase2(vpdnNet, peerNet)
				}})
			c.swanctl(t, "--initiate", "--child", "net", "--timeout", "20")
			e := v.waitEvent(t, ike.EventChildUp, c)
			if e.Child.Initiator {
				t.Error("vpdn thinks it initiated")
			}
			checkCharonSA(t, c, e.Child)
			checkIKECapture(t, capture)
		})
	}
}

// TestIKEv1StrongSwanFailures: document 004's failure cases against a
// real peer. A wrong key ends in "Death by retransmission P1"; an ESP
// proposal charon does not take (esp-md5-hmac against its sha1) fails
// quick mode with NO_PROPOSAL_CHOSEN while phase 1 stays up.
func TestIKEv1StrongSwanFailures(t *testing.T) {
	s := ikeSuites[0]
	t.Run("wrong key", func(t *testing.T) {
		lab, a, b, capture := newIKELab(t)
		c := startCharon(t, lab, b, s.swanctlConf())
		v := startIKE(t, a, ike.Config{Policies: []ike.Policy{s.p1}, Retransmit: 300 * time.Millisecond,
			Key: func(netip.Addr, []byte) []byte { return []byte("not-" + ikePSK) }})
		if err := v.Initiate(netip.AddrPortFrom(peerAddr, 500), s.phase2(vpdnNet, peerNet)); err != nil {
			t.Fatal(err)
		}
		deadline := time.After(30 * time.Second)
		for done := false; !done; {
			select {
			case e := <-v.events:
				switch e.Kind {
				case ike.EventPhase1Down:
					if e.Reason != "Death by retransmission P1" && e.Reason != "authentication failed" {
						t.Errorf("phase 1 down: %s", e.Reason)
					}
					t.Logf("phase 1 ended: %s", e.Reason)
					done = true
				case ike.EventPhase1Up, ike.EventChildUp:
					t.Fatalf("%v with a wrong key", e.Kind)
				}
			case <-deadline:
				t.Fatalf("no end in 30 s\ncharon log:\n%s", c.log())
			}
		}
		if !strings.Contains(v.logs.String(), "retransmitting phase 1 MM_KEY_EXCH") {
			t.Errorf("no retransmission in MM_KEY_EXCH")
		}
		checkIKECapture(t, capture)
	})
	t.Run("phase 2 proposal", func(t *testing.T) {
		lab, a, b, capture := newIKELab(t)
		c := startCharon(t, lab, b, s.swanctlConf())
		v := startIKE(t, a, ike.Config{Policies: []ike.Policy{s.p1}})
		bad := s
		bad.ts.Auth = isakmp.AuthAlgHMACMD5
		if err := v.Initiate(netip.AddrPortFrom(peerAddr, 500), bad.phase2(vpdnNet, peerNet)); err != nil {
			t.Fatal(err)
		}
		deadline := time.After(30 * time.Second)
		for done := false; !done; {
			select {
			case e := <-v.events:
				switch e.Kind {
				case ike.EventChildFailed:
					if e.Notify != isakmp.NotifyNoProposalChosen {
						t.Errorf("quick mode failed with %v (%s)", e.Notify, e.Reason)
					}
					done = true
				case ike.EventChildUp:
					t.Fatal("child SA with mismatched transforms")
				}
			case <-deadline:
				t.Fatalf("no failure in 30 s\ncharon log:\n%s", c.log())
			}
		}
		if st := v.Phase1(); len(st) != 1 || st[0].State != "QM_IDLE" {
			t.Errorf("phase 1 after the refusal: %+v", st)
		}
		checkIKECapture(t, capture)
	})
}

// TestIKEScan: ike-scan finds vpdn's responder and reads its choice from
// the main mode answer; an aggressive mode probe gets nothing unless
// aggressive mode is accepted (it would hand out a crackable hash of the
// key, which psk-crack then finds).
func TestIKEScan(t *testing.T) {
	if _, err := os.Stat("/usr/bin/ike-scan"); err != nil {
		if os.Getenv("VPDN_REQUIRE_PEERS") == "1" {
			t.Fatal("ike-scan not installed")
		}
		t.Skip("ike-scan not installed")
	}
	for _, aggressive := range []bool{false, true} {
		t.Run(fmt.Sprintf("accept-aggressive=%v", aggressive), func(t *testing.T) {
			lab := nstest.New(t)
			a, b := lab.NS("vpdn"), lab.NS("scan")
			lab.Link(a, b, netip.PrefixFrom(vpdnAddr, 24), netip.PrefixFrom(peerAddr, 24))
			startIKE(t, a, ike.Config{Policies: []ike.Policy{{Priority: 10, Encryption: ike.Cipher3DES, Hash: ike.HashSHA1, Group: ike.Group2}},
				AcceptAggressive: aggressive, Retransmit: time.Second, MaxRetransmits: 1})
			out, err := b.Run(30*time.Second, "ike-scan", "--sport=0", "--retry=2", vpdnAddr.String())
			if err != nil {
				t.Fatalf("ike-scan: %v\n%s", err, out)
			}
			if !bytes.Contains(out, []byte("Main Mode Handshake returned")) || !bytes.Contains(out, []byte("Enc=3DES Hash=SHA1 Auth=PSK Group=2:modp1024")) ||
				!bytes.Contains(out, []byte("Dead Peer Detection")) {
				t.Errorf("main mode probe:\n%s", out)
			}
			dir := t.TempDir()
			psk := filepath.Join(dir, "psk")
			out, err = b.Run(30*time.Second, "ike-scan", "--sport=0", "--retry=2", "--aggressive", "--id=scanner", "--pskcrack="+psk, vpdnAddr.String())
			if err != nil {
				t.Fatalf("ike-scan: %v\n%s", err, out)
			}
			got := bytes.Contains(out, []byte("Aggressive Mode Handshake returned"))
			if got != aggressive {
				t.Errorf("aggressive probe (accepted %v):\n%s", aggressive, out)
			}
			if !aggressive {
				return
			}
			words := filepath.Join(dir, "words")
			os.WriteFile(words, []byte("guess\n"+ikePSK+"\nother\n"), 0o600)
			out, err = b.Run(30*time.Second, "psk-crack", "-d", words, psk)
			if err != nil || !bytes.Contains(out, []byte(`key "`+ikePSK+`" matches`)) {
				t.Errorf("psk-crack: %v\n%s", err, out)
			}
		})
	}
}
