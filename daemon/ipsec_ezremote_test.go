package daemon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/netif"
	"github.com/vpdn/vpdn/proto/ike"
	"github.com/vpdn/vpdn/show"
	"github.com/vpdn/vpdn/transport/memnet"
	"github.com/vpdn/vpdn/wire/isakmp"
)

// ezRemoteCfg is vpdn as an Easy VPN remote of ezServerCfg's hub
// (198.18.0.2): document 004's client with the hub's group and user.
const ezRemoteCfg = `hostname remote
crypto isakmp policy 10
 encryption aes 256
 authentication pre-share
 group 14
crypto ipsec client ezvpn EZ
 connect auto
 group VPNGROUP key groupkey
 mode client
 peer 198.18.0.2
 username alice password s3cret
 xauth userid mode local
interface Ethernet0/0
 ip address 198.18.0.1 255.255.255.0
 crypto ipsec client ezvpn EZ
`

func ezRemoteStatus(t *testing.T, m *memDaemon) show.EzVPNRemote {
	t.Helper()
	var rs []show.EzVPNRemote
	if err := json.Unmarshal(m.show(t, "crypto ipsec client ezvpn", true).Data, &rs); err != nil || len(rs) != 1 {
		t.Fatalf("show crypto ipsec client ezvpn: %v %v", rs, err)
	}
	return rs[0]
}

// TestInMemoryEzVPNRemote: a vpdn remote connects to a vpdn Easy VPN
// server: XAuth, the pool's address on its crypto TUN, a route for the
// split network from that address, traffic both ways through the SA; the
// shows; clear takes it all down and connect auto brings it back.
func TestInMemoryEzVPNRemote(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(41)
		hub := newMemDaemon(t, nw, ezServerCfg)
		rem := newMemDaemon(t, nw, ezRemoteCfg+"interface Ethernet0/1\n ip address 198.19.8.1 255.255.255.0\n ip nat inside\n crypto ipsec client ezvpn EZ inside\n",
			func(o *Options) { o.Host.(*netif.FakeHost).CreateTAP("Ethernet0/0") })
		rem.do("debug", "crypto", "ipsec")
		waitFor(t, "the remote active", func() bool { return ezRemoteStatus(t, rem).State == "IPSEC_ACTIVE" })
		st := ezRemoteStatus(t, rem)
		if st.Address != "198.19.5.10" || st.AppliedOn != "Loopback10000" || st.Peer != "198.18.0.2" || len(st.Split) != 1 ||
			st.Split[0].Address != "198.19.2.0" || st.Split[0].Mask != "255.255.255.0" || st.Domain != "example.test" || len(st.DNS) != 1 || st.Device != "crypto0" {
			t.Fatalf("status %+v", st)
		}
		text := rem.show(t, "crypto ipsec client ezvpn", false).Text
		for _, want := range []string{"Easy VPN Remote Phase: 8", "Tunnel name : EZ", "Outside interface: Ethernet0/0", "Current State: IPSEC_ACTIVE",
			"Address: 198.19.5.10 (applied on Loopback10000)", "Mask: 255.255.255.255", "DNS Primary: 198.19.2.53", "Default Domain: example.test",
			"Split Tunnel List: 1", "Address    : 198.19.2.0", "Current EzVPN Peer: 198.18.0.2"} {
			if !strings.Contains(text, want) {
				t.Errorf("show crypto ipsec client ezvpn lacks %q:\n%s", want, text)
			}
		}
		if addrs, _ := rem.host.Addrs("crypto0"); !containsPrefix(addrs, "198.19.5.10/32") {
			t.Errorf("the assigned address is not on crypto0: %v", addrs)
		}
		// The inside network is translated to the assigned address on
		// its way into the tunnel.
		// The inside network is translated to the assigned address into
		// the tunnel, and to the outside address elsewhere.
		inside := []netip.Prefix{netip.MustParsePrefix("198.19.8.0/24")}
		if n, ok := rem.host.NAT("vpdn-ezvpn-EZ"); !ok || len(n.Rules) != 2 || n.Rules[0].Oif != "crypto0" || !slices.Equal(n.Rules[0].Srcs, inside) ||
			n.Rules[1].Oif != "Ethernet0/0" || !slices.Equal(n.Rules[1].Srcs, inside) {
			t.Errorf("NAT %+v %v", n, ok)
		}
		rs, _ := rem.host.Routes("crypto0")
		if len(rs) != 1 || rs[0].Dst != netip.MustParsePrefix("198.19.2.0/24") || rs[0].Src != netip.MustParseAddr("198.19.5.10") {
			t.Errorf("routes into crypto0: %+v", rs)
		}
		for _, w := range []string{"crypto isakmp sa", "crypto ipsec sa", "crypto session"} {
			if txt := rem.show(t, w, false).Text; !strings.Contains(txt, "198.18.0.2") {
				t.Errorf("show %s lacks the server:\n%s", w, txt)
			}
		}
		if txt := rem.show(t, "crypto ipsec sa", false).Text; !strings.Contains(txt, "local  ident (addr/mask/prot/port): (198.19.5.10/255.255.255.255/256/0)") {
			t.Errorf("show crypto ipsec sa:\n%s", txt)
		}
		// Traffic both ways: from the assigned address to the hub's
		// network, and back.
		both(t, rem, hub, "198.19.5.10", "198.19.2.1")
		up := udpPacket("198.19.5.10", "198.19.2.1", 60)

		// clear: address, route and SAs go; connect auto brings them back.
		if r := rem.do("clear", "crypto", "ipsec", "client", "ezvpn"); !r.OK {
			t.Fatalf("clear: %+v", r)
		}
		st = ezRemoteStatus(t, rem)
		if st.State != "CONNECT_REQUIRED" || st.Address != "" {
			t.Errorf("after clear: %+v", st)
		}
		if addrs, _ := rem.host.Addrs("crypto0"); containsPrefix(addrs, "198.19.5.10/32") {
			t.Errorf("the address stayed after clear: %v", addrs)
		}
		if rs, _ := rem.host.Routes("crypto0"); len(rs) != 0 {
			t.Errorf("routes stayed after clear: %v", rs)
		}
		if _, ok := rem.host.NAT("vpdn-ezvpn-EZ"); ok {
			t.Error("the NAT table stayed after clear")
		}
		time.Sleep(remoteRetryMin + time.Second)
		waitFor(t, "the remote back", func() bool { return ezRemoteStatus(t, rem).State == "IPSEC_ACTIVE" })
		waitFor(t, "the hub's lease released and taken again", func() bool { return poolInUse(hub, "EZPOOL") == 1 })
		inject(rem.host.Device("crypto0"), up)
		waitFor(t, "the packet at the hub again", func() bool { return bytes.Equal(outbound(hub.host.Device("crypto0")), up) })
	})
}

// TestInMemoryEzVPNRemoteWrongPassword: a rejected XAuth leaves the
// remote down (XAUTH_REQ, no address, no route), retried only after
// remoteXAuthRetry, and after remoteXAuthTries rejections it waits for
// crypto ipsec client ezvpn connect.
func TestInMemoryEzVPNRemoteWrongPassword(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(43)
		hub := newMemDaemon(t, nw, ezServerCfg)
		rem := newMemDaemon(t, nw, strings.Replace(ezRemoteCfg, "password s3cret", "password wrong", 1))
		waitFor(t, "XAuth rejected", func() bool {
			return ezRemoteStatus(t, rem).State == "XAUTH_REQ" && ezRemoteStatus(t, rem).LastEvent != "XAUTH_REQUEST"
		})
		synctest.Wait()
		st := ezRemoteStatus(t, rem)
		if st.State != "XAUTH_REQ" || st.Address != "" {
			t.Fatalf("after a rejected XAuth: %+v", st)
		}
		if addrs, _ := rem.host.Addrs("crypto0"); len(addrs) != 0 {
			t.Errorf("addresses on crypto0: %v", addrs)
		}
		if n := poolInUse(hub, "EZPOOL"); n != 0 {
			t.Errorf("the hub's pool has %d in use", n)
		}
		// No fast loop: nothing new within a minute.
		time.Sleep(time.Minute)
		synctest.Wait()
		if st := ezRemoteStatus(t, rem); st.State != "XAUTH_REQ" {
			t.Errorf("a minute later: %+v", st)
		}
		// Two more rejections, remoteXAuthRetry apart, then it waits.
		time.Sleep(2*remoteXAuthRetry + time.Minute)
		synctest.Wait()
		if st := ezRemoteStatus(t, rem); st.State != "CONNECT_REQUIRED" {
			t.Errorf("after %d rejections: %+v", remoteXAuthTries, st)
		}
		time.Sleep(2 * remoteXAuthRetry)
		synctest.Wait()
		if st := ezRemoteStatus(t, rem); st.State != "CONNECT_REQUIRED" {
			t.Errorf("it retried after giving up: %+v", st)
		}
		// The exec command tries again.
		if r := rem.do("crypto", "ipsec", "client", "ezvpn", "connect", "EZ"); !r.OK {
			t.Fatalf("connect: %+v", r)
		}
		if r := rem.do("crypto", "ipsec", "client", "ezvpn", "connect", "NOPE"); r.OK || !strings.Contains(r.Error, "NOPE is not configured") {
			t.Errorf("connect NOPE: %+v", r)
		}
		waitFor(t, "rejected again", func() bool { return ezRemoteStatus(t, rem).State == "XAUTH_REQ" })
	})
}

// both sends a datagram from src to dst into a's crypto TUN, waits for
// it out of b's, and one back.
func both(t *testing.T, a, b *memDaemon, src, dst string) {
	t.Helper()
	up := udpPacket(src, dst, 60)
	inject(a.host.Device("crypto0"), up)
	waitFor(t, "the packet through the tunnel", func() bool { return bytes.Equal(outbound(b.host.Device("crypto0")), up) })
	back := udpPacket(dst, src, 61)
	inject(b.host.Device("crypto0"), back)
	waitFor(t, "the reply through the tunnel", func() bool { return bytes.Equal(outbound(a.host.Device("crypto0")), back) })
}

func containsPrefix(ps []netip.Prefix, want string) bool {
	for _, p := range ps {
		if p.String() == want {
			return true
		}
	}
	return false
}

// TestInMemoryEzVPNRemoteNetworkExtension: in network-extension mode the
// inside network is the source selector (no address used): the hub
// accepts it for the authenticated client, routes it into its crypto TUN,
// and an inside host's packet arrives with its own source address.
func TestInMemoryEzVPNRemoteNetworkExtension(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(47)
		hub := newMemDaemon(t, nw, ezServerCfg)
		cfg := strings.Replace(ezRemoteCfg, " mode client\n", " mode network-extension\n", 1) +
			"interface Ethernet0/1\n ip address 198.19.8.1 255.255.255.0\n crypto ipsec client ezvpn EZ inside\n"
		rem := newMemDaemon(t, nw, cfg)
		waitFor(t, "the remote active", func() bool { return ezRemoteStatus(t, rem).State == "IPSEC_ACTIVE" })
		st := ezRemoteStatus(t, rem)
		if st.Address != "" || st.Mode != "network-extension" || len(st.Inside) != 1 || st.Inside[0] != "Ethernet0/1" {
			t.Errorf("status %+v", st)
		}
		if addrs, _ := rem.host.Addrs("crypto0"); len(addrs) != 0 {
			t.Errorf("network extension put %v on crypto0", addrs)
		}
		if txt := rem.show(t, "crypto ipsec sa", false).Text; !strings.Contains(txt, "local  ident (addr/mask/prot/port): (198.19.8.0/255.255.255.0/256/0)") {
			t.Errorf("show crypto ipsec sa:\n%s", txt)
		}
		if rs, _ := hub.host.Routes("crypto0"); !strings.Contains(strings.Join(routeDsts(rs), " "), "198.19.8.0/24") {
			t.Errorf("the hub has no route to the inside network: %v", rs)
		}
		both(t, rem, hub, "198.19.8.5", "198.19.2.1")

		// Hostile claims: another client may not take a network holding
		// the first one's address, nor everything.
		for i, claim := range []string{"198.19.0.0/16", "0.0.0.0/0", "198.0.0.0/7"} {
			bob := newEzClient(t, nw, fmt.Sprintf("198.18.0.%d", 10+i), "bob", "hunter2")
			pol := &ike.Phase2Policy{TransformSets: []ike.TransformSet{{Name: "TS", ESP: 12, KeyBits: 256, Auth: 2}},
				Local: ike.Selector{Prefix: netip.MustParsePrefix(claim)}, Remote: ike.Selector{Prefix: netip.MustParsePrefix("198.19.2.0/24")}}
			if err := bob.node.Initiate(netip.MustParseAddrPort("198.18.0.2:500"), pol); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the claim refused", func() bool { return bob.find(ike.EventChildFailed) != nil })
			if f := bob.find(ike.EventChildFailed); f.Notify != isakmp.NotifyInvalidIDInformation || bob.find(ike.EventChildUp) != nil {
				t.Errorf("claim %s: %+v", claim, f)
			}
			bob.node.DeletePeer(netip.MustParseAddr("198.18.0.2"))
			synctest.Wait()
		}
	})
}

// TestInMemoryEzVPNRemoteReconnect: the server ending the IKE SA (clear
// crypto isakmp on the hub) takes the remote's tunnel down and connect
// auto brings it back; a first peer that never answers is left for the
// backup peer.
func TestInMemoryEzVPNRemoteReconnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(53)
		hub := newMemDaemon(t, nw, ezServerCfg)
		// 198.18.0.9 is nobody: the remote gives up on it and tries the
		// hub.
		rem := newMemDaemon(t, nw, strings.Replace(ezRemoteCfg, " peer 198.18.0.2\n", " peer 198.18.0.9\n peer 198.18.0.2\n", 1))
		time.Sleep(remoteConnectTimeout + remoteRetryMin + time.Second)
		waitFor(t, "the remote active on its backup peer", func() bool { return ezRemoteStatus(t, rem).State == "IPSEC_ACTIVE" })
		if st := ezRemoteStatus(t, rem); st.Peer != "198.18.0.2" || len(st.Peers) != 2 {
			t.Fatalf("status %+v", st)
		}
		both(t, rem, hub, "198.19.5.10", "198.19.2.1")
		if r := hub.do("clear", "crypto", "isakmp"); !r.OK {
			t.Fatalf("clear on the hub: %+v", r)
		}
		waitFor(t, "the remote down", func() bool { return ezRemoteStatus(t, rem).State != "IPSEC_ACTIVE" })
		if addrs, _ := rem.host.Addrs("crypto0"); len(addrs) != 0 {
			t.Errorf("the address stayed: %v", addrs)
		}
		if st := ezRemoteStatus(t, rem); !strings.HasPrefix(st.LastEvent, "PHASE1_DOWN") {
			t.Errorf("last event %q", st.LastEvent)
		}
		time.Sleep(remoteRetryMin + time.Second)
		waitFor(t, "the remote back", func() bool { return ezRemoteStatus(t, rem).State == "IPSEC_ACTIVE" })
		if st := ezRemoteStatus(t, rem); st.Peer != "198.18.0.2" {
			t.Errorf("reconnected to %s", st.Peer)
		}
		both(t, rem, hub, "198.19.5.10", "198.19.2.1")
	})
}

// TestInMemoryEzVPNRemoteReload: a reload that changes the remote
// (connect manual) tears its tunnel down (the server is told and frees the
// address) and the new one waits for crypto ipsec client ezvpn connect.
func TestInMemoryEzVPNRemoteReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(59)
		hub := newMemDaemon(t, nw, ezServerCfg)
		rem := newMemDaemon(t, nw, ezRemoteCfg)
		waitFor(t, "the remote active", func() bool { return ezRemoteStatus(t, rem).State == "IPSEC_ACTIVE" })
		os.WriteFile(rem.d.opts.ConfigPath, []byte(strings.Replace(ezRemoteCfg, "connect auto", "connect manual", 1)), 0o644)
		if err := rem.d.Reload(); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if st := ezRemoteStatus(t, rem); st.State != "CONNECT_REQUIRED" || st.Address != "" {
			t.Errorf("after the reload: %+v", st)
		}
		if addrs, _ := rem.host.Addrs("crypto0"); len(addrs) != 0 {
			t.Errorf("addresses on the new crypto0: %v", addrs)
		}
		waitFor(t, "the hub's lease released", func() bool { return poolInUse(hub, "EZPOOL") == 0 })
		time.Sleep(remoteRetryMax)
		synctest.Wait()
		if st := ezRemoteStatus(t, rem); st.State != "CONNECT_REQUIRED" {
			t.Errorf("connect manual connected by itself: %+v", st)
		}
		if r := rem.do("crypto", "ipsec", "client", "ezvpn", "connect"); !r.OK {
			t.Fatalf("connect: %+v", r)
		}
		waitFor(t, "the remote active again", func() bool { return ezRemoteStatus(t, rem).State == "IPSEC_ACTIVE" })
		both(t, rem, hub, "198.19.5.10", "198.19.2.1")
	})
}

// TestInMemoryEzVPNRemoteLongSplitList: a server that sends more split
// networks than maxRemoteSplit gets routes, SPD lines and
// quick modes for the first maxRemoteSplit distinct ones only.
func TestInMemoryEzVPNRemoteLongSplitList(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var acl strings.Builder
		acl.WriteString(" permit ip 198.19.2.0 0.0.0.255 any\n")
		for i := range maxRemoteSplit + 6 {
			fmt.Fprintf(&acl, " permit ip 198.19.%d.0 0.0.0.255 any\n", 100+i)
		}
		srv := strings.Replace(ezServerCfg, " permit ip 198.19.2.0 0.0.0.255 any\n", acl.String(), 1)
		nw := memnet.New(43)
		newMemDaemon(t, nw, srv)
		rem := newMemDaemon(t, nw, ezRemoteCfg)
		waitFor(t, "the remote active", func() bool { return ezRemoteStatus(t, rem).State == "IPSEC_ACTIVE" })
		st := ezRemoteStatus(t, rem)
		rs, _ := rem.host.Routes("crypto0")
		if len(st.Split) != maxRemoteSplit || len(rs) != maxRemoteSplit || st.Split[0].Address != "198.19.2.0" {
			t.Fatalf("split list %d (first %+v), routes %d; want %d", len(st.Split), st.Split[0], len(rs), maxRemoteSplit)
		}
	})
}
