package interop

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/nstest"
)

// vpdn as an Easy VPN remote (crypto ipsec client ezvpn), in namespaces:
// against vpdn's own Easy VPN server (ezvpnServerCfg) in mode client and
// network-extension, with a wrong XAuth password, and against
// strongSwan's charon as the server (swanEzServer).

// ezRemoteCfg is the remote at peerAddr (198.18.0.2) connecting to
// server; mode is client or network-extension, extra more lines.
func ezRemoteCfg(dev, server, pass, mode, extra string) string {
	return fmt.Sprintf(`hostname remote
crypto isakmp policy 10
 encr aes 256
 authentication pre-share
 group 14
crypto ipsec client ezvpn EZ
 connect auto
 group VPNGROUP key groupkey
 mode %[4]s
 peer %[2]s
 username alice password %[3]s
 xauth userid mode local
interface GigabitEthernet0/0
 ip address %[5]s 255.255.255.0
 linux-device %[1]s
 crypto ipsec client ezvpn EZ
%[6]s`, dev, server, pass, mode, peerAddr, extra)
}

// ezState reads show crypto ipsec client ezvpn's JSON.
type ezState struct {
	State, Address, LastEvent string
	Split                     []struct{ Address, Mask string } `json:"split_tunnel"`
}

func readEzState(t *testing.T, show func(...string) string) ezState {
	var st []struct {
		State     string `json:"state"`
		Address   string `json:"address"`
		LastEvent string `json:"last_event"`
		Split     []struct {
			Address string `json:"address"`
			Mask    string `json:"mask"`
		} `json:"split_tunnel"`
	}
	out := show("show", "crypto", "ipsec", "client", "ezvpn", "--json")
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st) != 1 {
		return ezState{State: "unreadable: " + out}
	}
	s := ezState{State: st[0].State, Address: st[0].Address, LastEvent: st[0].LastEvent}
	for _, x := range st[0].Split {
		s.Split = append(s.Split, struct{ Address, Mask string }{x.Address, x.Mask})
	}
	return s
}

// udpSource sends one datagram from ns to dst and returns the source
// address the listener in far saw (bounded by 5 s).
func udpSource(t *testing.T, ns, far *nstest.NS, bind netip.Addr, dst netip.AddrPort) netip.Addr {
	t.Helper()
	var l *net.UDPConn
	if err := far.Do(func() (err error) {
		l, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(dst))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan netip.Addr, 1)
	go func() {
		b := make([]byte, 64)
		l.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, from, err := l.ReadFromUDPAddrPort(b)
		if err == nil {
			got <- from.Addr()
		}
		close(got)
	}()
	for i := 0; i < 10; i++ {
		if err := ns.Do(func() error {
			var laddr *net.UDPAddr
			if bind.IsValid() {
				laddr = net.UDPAddrFromAddrPort(netip.AddrPortFrom(bind, 0))
			}
			c, err := net.DialUDP("udp4", laddr, net.UDPAddrFromAddrPort(dst))
			if err != nil {
				return err
			}
			defer c.Close()
			_, err = c.Write([]byte("ezvpn"))
			return err
		}); err != nil {
			t.Fatalf("send to %v: %v", dst, err)
		}
		select {
		case a, ok := <-got:
			if ok {
				return a
			}
			return netip.Addr{}
		case <-time.After(300 * time.Millisecond):
		}
	}
	return <-got
}

// ezLab is an Easy VPN server's namespace (hub: vpdnAddr, and 198.19.1.1
// on its loopback as the network behind it) linked to a remote's (rem:
// peerAddr, its link devRem).
func ezLab(t *testing.T) (lab *nstest.Lab, hub, rem *nstest.NS, devRem string) {
	t.Helper()
	lab = nstest.New(t)
	hub, rem = lab.NS("hub"), lab.NS("rem")
	_, devRem = lab.Link(hub, rem, netip.PrefixFrom(vpdnAddr, 24), netip.PrefixFrom(peerAddr, 24))
	hub.MustIP("addr", "add", "198.19.1.1/32", "dev", "lo")
	hub.MustIP("link", "set", "lo", "up")
	rem.MustIP("link", "set", "lo", "up")
	return lab, hub, rem, devRem
}

// TestEzVPNRemoteVPDNServer: vpdn remote ↔ vpdn server. Mode client: the
// pool's address on the remote's crypto TUN, the split network routed
// from it, pings to a host behind the server, seen there from the
// assigned address. Network extension: a host on the remote's inside
// network reaches the server's network with its own address. A wrong
// password leaves the remote down with no address.
func TestEzVPNRemoteVPDNServer(t *testing.T) {
	for _, tc := range []struct {
		name, pass, mode string
	}{
		{"client", "s3cret", "client"},
		{"client-inside", "s3cret", "client"},
		{"client-no-split", "s3cret", "client"},
		{"network-extension", "s3cret", "network-extension"},
		{"wrong-password", "wrong", "client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lab, hub, rem, devRem := ezLab(t)
			extra := ""
			var lan *nstest.NS
			if tc.name == "network-extension" || tc.name == "client-inside" {
				lan = lab.NS("lan")
				devIn, _ := lab.Link(rem, lan, netip.MustParsePrefix("198.19.8.1/24"), netip.MustParsePrefix("198.19.8.2/24"))
				lan.Route(netip.MustParsePrefix("198.19.1.0/24"), netip.MustParseAddr("198.19.8.1"))
				if out, err := rem.Run(5*time.Second, "sysctl", "-qw", "net.ipv4.ip_forward=1"); err != nil {
					t.Fatalf("ip_forward: %v %s", err, out)
				}
				extra = fmt.Sprintf("interface GigabitEthernet0/1\n ip address 198.19.8.1 255.255.255.0\n linux-device %s\n crypto ipsec client ezvpn EZ inside\n", devIn)
				if tc.mode == "client" {
					extra = strings.Replace(extra, " crypto ipsec", " ip nat inside\n crypto ipsec", 1)
				}
			}
			bin := nstest.GoBuild(t, "../cmd/vpdn")
			hubCfg := ezvpnServerCfg
			if tc.name == "client-no-split" {
				// No split list: everything through the tunnel.
				hubCfg = strings.Replace(hubCfg, " acl SPLIT\n", "", 1)
			}
			_, hubSock, stopHub := vpdnServe(t, lab, hub, bin, hubCfg)
			remLogs, remSock, stopRem := vpdnServe(t, lab, rem, bin, ezRemoteCfg(devRem, vpdnAddr.String(), tc.pass, tc.mode, extra))
			showHub, showRem := vpdnCLI(t, hub, bin, hubSock), vpdnCLI(t, rem, bin, remSock)
			showRem("debug", "crypto", "isakmp")
			if tc.pass == "wrong" {
				waitLine(t, "the remote refused", 30*time.Second, func() bool {
					st := readEzState(t, showRem)
					return st.State == "XAUTH_REQ" && st.LastEvent != "XAUTH_REQUEST"
				})
				st := readEzState(t, showRem)
				if st.Address != "" {
					t.Errorf("a refused remote holds %s", st.Address)
				}
				if out, _ := rem.IP("-4", "addr", "show"); strings.Contains(string(out), "198.19.5.") {
					t.Errorf("an address from the pool on the remote:\n%s", out)
				}
				if out, _ := rem.IP("route", "show"); strings.Contains(string(out), "198.19.1.0") {
					t.Errorf("a route to the split network:\n%s", out)
				}
				if txt := showRem("show", "crypto", "ipsec", "client", "ezvpn"); !strings.Contains(txt, "Current State: XAUTH_REQ") {
					t.Errorf("show crypto ipsec client ezvpn:\n%s", txt)
				}
				stopRem()
				stopHub()
				return
			}
			waitLine(t, "the remote active", 30*time.Second, func() bool { return readEzState(t, showRem).State == "IPSEC_ACTIVE" })
			st := readEzState(t, showRem)
			if tc.name == "client-no-split" {
				// 0/1 and 128/1 into the tunnel, the server kept on the
				// outside link.
				out, _ := rem.IP("route", "show")
				for _, want := range []string{"0.0.0.0/1 dev crypto0", "128.0.0.0/1 dev crypto0", vpdnAddr.String() + " dev " + devRem} {
					if !strings.Contains(string(out), want) {
						t.Errorf("routes lack %q:\n%s", want, out)
					}
				}
			} else if len(st.Split) != 1 || st.Split[0].Address != "198.19.1.0" {
				t.Errorf("split list %+v", st.Split)
			}
			far := netip.AddrPortFrom(netip.MustParseAddr("198.19.1.1"), 9999)
			if tc.mode == "client" {
				if st.Address != "198.19.5.10" {
					t.Fatalf("state %+v", st)
				}
				if out, err := rem.Run(20*time.Second, "ping", "-c", "3", "-i", "0.3", "-W", "2", "198.19.1.1"); err != nil {
					t.Fatalf("ping through the tunnel: %v\n%s\n%s", err, out, showRem("show", "crypto", "ipsec", "sa"))
				}
				if src := udpSource(t, rem, hub, netip.Addr{}, far); src != netip.MustParseAddr("198.19.5.10") {
					t.Errorf("the far side saw %v, want the assigned 198.19.5.10", src)
				}
				if lan != nil {
					// An inside host: translated to the assigned address.
					if out, err := lan.Run(20*time.Second, "ping", "-c", "3", "-i", "0.3", "-W", "2", "198.19.1.1"); err != nil {
						out2, _ := rem.Run(5*time.Second, "nft", "list", "ruleset")
						t.Fatalf("ping from the inside host: %v\n%s\n%s", err, out, out2)
					}
					if src := udpSource(t, lan, hub, netip.Addr{}, far); src != netip.MustParseAddr("198.19.5.10") {
						t.Errorf("the far side saw the inside host as %v, want the assigned 198.19.5.10", src)
					}
					// Outside the split list, through the outside
					// interface: translated to its address (IOS's
					// "internet" list).
					lan.Route(netip.PrefixFrom(vpdnAddr, 32), netip.MustParseAddr("198.19.8.1"))
					if src := udpSource(t, lan, hub, netip.Addr{}, netip.AddrPortFrom(vpdnAddr, 9998)); src != peerAddr {
						out, _ := rem.Run(5*time.Second, "nft", "list", "ruleset")
						t.Errorf("the server's outside address saw the inside host as %v, want the remote's outside %v\n%s", src, peerAddr, out)
					}
				}
			} else {
				if st.Address != "" {
					t.Errorf("network extension shows address %s", st.Address)
				}
				if out, err := lan.Run(20*time.Second, "ping", "-c", "3", "-i", "0.3", "-W", "2", "198.19.1.1"); err != nil {
					t.Fatalf("ping from the inside host: %v\n%s\n%s\n%s", err, out, showRem("show", "crypto", "ipsec", "sa"), showHub("show", "crypto", "ipsec", "sa"))
				}
				if src := udpSource(t, lan, hub, netip.Addr{}, far); src != netip.MustParseAddr("198.19.8.2") {
					t.Errorf("the far side saw %v, want the inside host's 198.19.8.2", src)
				}
			}
			for _, w := range [][]string{{"crypto", "isakmp", "sa"}, {"crypto", "ipsec", "sa"}, {"crypto", "session"}} {
				if txt := showRem(append([]string{"show"}, w...)...); !strings.Contains(txt, vpdnAddr.String()) {
					t.Errorf("show %v on the remote lacks the server:\n%s", w, txt)
				}
			}
			if !strings.Contains(showHub("show", "crypto", "session", "detail"), "Username: alice") {
				t.Errorf("the server's session lacks alice:\n%s", showHub("show", "crypto", "session", "detail"))
			}
			// The remote's shutdown takes its address and routes away.
			if err := stopRem(); err != nil {
				t.Errorf("remote exit: %v\n%s", err, remLogs)
			}
			if out, _ := rem.IP("route", "show"); strings.Contains(string(out), "198.19.1.0") || strings.Contains(string(out), "0.0.0.0/1") || strings.Contains(string(out), vpdnAddr.String()+" dev") {
				t.Errorf("a route stayed after shutdown:\n%s", out)
			}
			if out, _ := rem.Run(5*time.Second, "nft", "list", "tables"); strings.Contains(string(out), "vpdn-ezvpn") {
				t.Errorf("the NAT table stayed after shutdown:\n%s", out)
			}
			stopHub()
		})
	}
}

// TestEzVPNRemoteStrongSwanServer: vpdn remote against charon as the Easy
// VPN server (swanEzServer, with the unity plugin for its split list):
// XAuth, an address from charon's pool, pings to its network.
func TestEzVPNRemoteStrongSwanServer(t *testing.T) {
	lab, a, b, capture := newIKELab(t)
	// vpdn's side here is the remote, charon the server at peerAddr:
	// swanEzServer has charon at peerAddr and its client at vpdnAddr.
	a.MustIP("link", "set", "lo", "up")
	b.MustIP("link", "set", "lo", "up")
	c := startCharonPlugins(t, lab, b, swanEzServer(), "xauth-generic unity attr")
	bin := nstest.GoBuild(t, "../cmd/vpdn")
	cfg := strings.Replace(ezRemoteCfg(linkDev(t, a), peerAddr.String(), "s3cret", "client", ""), " ip address "+peerAddr.String(), " ip address "+vpdnAddr.String(), 1)
	logs, sock, stop := vpdnServe(t, lab, a, bin, cfg)
	show := vpdnCLI(t, a, bin, sock)
	show("debug", "crypto", "isakmp")
	waitLine(t, "the remote active", 40*time.Second, func() bool { return readEzState(t, show).State == "IPSEC_ACTIVE" })
	st := readEzState(t, show)
	// charon's unity plugin sends its local_ts as the split list to a
	// client that sent the Unity vendor ID.
	if st.Address != "198.19.6.10" || len(st.Split) != 1 || st.Split[0].Address != "198.19.2.0" || st.Split[0].Mask != "255.255.255.0" {
		t.Fatalf("state %+v\ncharon:\n%s", st, c.log())
	}
	// kernel-libipsec: charon's side routes the client's address into
	// its TUN.
	for i := 0; ; i++ {
		if out, err := b.IP("route", "replace", "198.19.6.10/32", "dev", "ipsec0", "src", "198.19.2.1"); err == nil {
			break
		} else if i == 50 {
			t.Fatalf("route into ipsec0: %v %s\n%s", err, out, c.log())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out, err := a.Run(20*time.Second, "ping", "-c", "3", "-i", "0.3", "-W", "2", "198.19.2.1"); err != nil {
		t.Fatalf("ping through charon: %v\n%s\n%s\ncharon:\n%s", err, out, show("show", "crypto", "ipsec", "sa"), c.log())
	}
	if !strings.Contains(c.log(), "XAuth authentication of 'alice' successful") {
		t.Errorf("charon's log lacks the XAuth success")
	}
	if err := stop(); err != nil {
		t.Errorf("vpdn serve exit: %v\n%s", err, logs)
	}
	checkIKECapture(t, capture)
}

// vpdnCLI waits (bounded) for the daemon at sock in ns to answer and
// returns a runner of its CLI (vpdn show ..., debug ..., clear ...).
func vpdnCLI(t *testing.T, ns *nstest.NS, bin, sock string) func(...string) string {
	t.Helper()
	run := func(words ...string) string {
		out, _ := ns.Run(10*time.Second, bin, append(words, "--socket", sock)...)
		return string(out)
	}
	waitLine(t, "vpdn to answer", 15*time.Second, func() bool { return strings.Contains(run("show", "version"), "vpdn") })
	return run
}

// linkDev is the name of ns's device on the lab link (the one holding
// vpdnAddr).
func linkDev(t *testing.T, ns *nstest.NS) string {
	t.Helper()
	out, err := ns.IP("-o", "-4", "addr", "show", "to", vpdnAddr.String()+"/32")
	f := strings.Fields(string(out))
	if err != nil || len(f) < 2 {
		t.Fatalf("no device with %v: %v %s", vpdnAddr, err, out)
	}
	return f[1]
}
