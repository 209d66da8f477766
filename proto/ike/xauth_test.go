package ike

import (
	"errors"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/internal/clock"
	"github.com/vpdn/vpdn/wire/isakmp"
)

var (
	clientAddr = netip.MustParseAddr("198.19.5.10")
	clientCfg  = ModeConfig{Address: clientAddr, Netmask: netip.MustParseAddr("255.255.255.0"),
		DNS:           []netip.Addr{netip.MustParseAddr("198.19.2.53"), netip.MustParseAddr("198.19.2.54")},
		NBNS:          []netip.Addr{netip.MustParseAddr("198.19.2.55")},
		SplitInclude:  []netip.Prefix{netB, netip.MustParsePrefix("198.19.3.0/25")},
		DefaultDomain: "example.test", Banner: "welcome", SavePassword: true}
)

// ezOpts shapes an Easy VPN pair: a is the client, b the server.
type ezOpts struct {
	user, password string // the client's credentials
	pull           bool   // the client asks for mode-config
	push           bool   // the server pushes it
	aggressive     bool
	configErr      error // the server's ModeConfig fails
	silentAAA      bool  // Authenticate never answers
	noXAuth        bool  // mode-config alone
}

type ezServer struct {
	mu       sync.Mutex
	auths    []XAuthRequest
	configs  []ConfigRequest
	released []string
}

func ezPair(t *testing.T, w *network, o ezOpts) (*peer, *peer, *ezServer) {
	t.Helper()
	srv := &ezServer{}
	a, b := pair(t, w, func(i int, c *Config) {
		if i == 0 {
			if !o.noXAuth {
				c.XAuthCredentials = func(netip.Addr) (string, string) { return o.user, o.password }
			}
			c.RequestModeConfig = o.pull
			c.Aggressive = o.aggressive
			if o.aggressive {
				c.GroupID = "VPNGROUP"
			}
			return
		}
		c.AcceptAggressive = true
		if !o.noXAuth {
			c.XAuth = func(netip.Addr, []byte) bool { return true }
		}
		c.PushModeConfig = o.push
		c.Authenticate = func(r XAuthRequest, done func(bool)) {
			srv.mu.Lock()
			srv.auths = append(srv.auths, r)
			srv.mu.Unlock()
			if o.silentAAA {
				return
			}
			// RADIUS answers from another goroutine.
			go done(r.User == "alice" && r.Password == "s3cret")
		}
		c.ModeConfig = func(r ConfigRequest) (*ModeConfig, error) {
			srv.mu.Lock()
			srv.configs = append(srv.configs, r)
			srv.mu.Unlock()
			if o.configErr != nil {
				return nil, o.configErr
			}
			mc := clientCfg
			return &mc, nil
		}
		// The server's crypto map: its network towards the client's
		// assigned address.
		c.Phase2 = func(_ netip.AddrPort, _ string, l, r Selector) *Phase2Policy {
			if !slices.Contains(clientCfg.SplitInclude, l.Prefix) || r.Prefix != netip.PrefixFrom(clientAddr, 32) {
				return nil
			}
			return &Phase2Policy{TransformSets: []TransformSet{{Name: "TS", ESP: 12, KeyBits: 256, Auth: 2}}, Local: Selector{Prefix: l.Prefix}, Remote: Selector{Prefix: r.Prefix}}
		}
	})
	return a, b, srv
}

// clientP2 is the client's policy: its own side comes from mode-config.
func clientP2() *Phase2Policy {
	return &Phase2Policy{TransformSets: []TransformSet{{Name: "TS", ESP: 12, KeyBits: 256, Auth: 2}}, Remote: Selector{Prefix: netB}}
}

func TestXAuthModeConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    ezOpts
	}{
		{"main-pull", ezOpts{pull: true}},
		{"aggressive-pull", ezOpts{pull: true, aggressive: true}},
		{"main-push", ezOpts{pull: true, push: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newNetwork(7, 0, 0)
				tc.o.user, tc.o.password = "alice", "s3cret"
				a, b, srv := ezPair(t, w, tc.o)
				if err := a.n.Initiate(addrB, clientP2()); err != nil {
					t.Fatal(err)
				}
				settle(5 * time.Second)
				ca, cb := a.n.Children(), b.n.Children()
				if len(ca) != 1 || len(cb) != 1 {
					t.Fatalf("children a %d b %d\nA:\n%s\nB:\n%s", len(ca), len(cb), a.log, b.log)
				}
				if ca[0].Local.Prefix != netip.PrefixFrom(clientAddr, 32) || ca[0].Remote.Prefix != netB || cb[0].Remote.Prefix != netip.PrefixFrom(clientAddr, 32) {
					t.Errorf("selectors: client %v -> %v, server %v -> %v", ca[0].Local, ca[0].Remote, cb[0].Local, cb[0].Remote)
				}
				if len(srv.auths) != 1 || srv.auths[0].User != "alice" {
					t.Errorf("authentications %+v", srv.auths)
				}
				if tc.o.aggressive && srv.auths[0].ID != "VPNGROUP" {
					t.Errorf("group ID %q", srv.auths[0].ID)
				}
				if len(srv.configs) != 1 || srv.configs[0].User != "alice" {
					t.Errorf("mode-config requests %+v", srv.configs)
				}
				ev := a.find(EventModeConfig)
				if ev == nil {
					t.Fatalf("client has no mode-config event: %v", a.events)
				}
				got := ev.Config
				if got.Address != clientAddr || got.Netmask != clientCfg.Netmask || len(got.DNS) != 2 || len(got.NBNS) != 1 ||
					len(got.SplitInclude) != 2 || got.SplitInclude[1] != clientCfg.SplitInclude[1] || got.DefaultDomain != "example.test" ||
					got.Banner != "welcome" || !got.SavePassword {
					t.Errorf("client got %+v", got)
				}
				sb := b.n.Phase1()
				if len(sb) != 1 || sb[0].User != "alice" || sb[0].Config == nil || sb[0].Config.Address != clientAddr || sb[0].State != "QM_IDLE" {
					t.Errorf("server's show crypto isakmp sa: %+v", sb)
				}
				for _, s := range []string{"New State = IKE_XAUTH_REQ_SENT", "New State = IKE_XAUTH_AAA_START_LOGIN_AWAIT", "IKE_XAUTH_SET_SENT  New State = IKE_P1_COMPLETE",
					"Config payload ISAKMP_CFG_REPLY", "Sending private address: 198.19.5.10"} {
					if !b.log.has(s) {
						t.Errorf("server's log lacks %q", s)
					}
				}
				for _, s := range []string{"New State = IKE_XAUTH_REPLY_AWAIT", "New State = IKE_XAUTH_REPLY_SENT", "Config payload ISAKMP_CFG_SET"} {
					if !a.log.has(s) {
						t.Errorf("client's log lacks %q", s)
					}
				}
				if b.count(EventXAuth) != 1 || a.count(EventXAuth) != 1 || b.count(EventModeConfig) != 1 {
					t.Errorf("events a %v b %v\nB:\n%s", a.events, b.events, b.log)
				}
				// A second quick mode under the same SA protects the
				// assigned address too.
				if err := a.n.Initiate(addrB, clientP2()); err != nil {
					t.Fatal(err)
				}
				settle(2 * time.Second)
				if ca := a.n.Children(); len(ca) != 2 || ca[0].Local != ca[1].Local {
					t.Errorf("second quick mode: %d children %+v", len(ca), ca)
				}
				// Deleting the SA hands the address back (the Phase1Down
				// event carries it).
				a.n.DeletePeer(addrB.Addr())
				settle(time.Second)
				down := b.find(EventPhase1Down)
				if down == nil || down.Config == nil || down.Config.Address != clientAddr || down.User != "alice" {
					t.Errorf("server's phase1-down %+v", down)
				}
			})
		})
	}
}

func TestXAuthWrongPassword(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNetwork(8, 0, 0)
		a, b, _ := ezPair(t, w, ezOpts{user: "alice", password: "wrong", pull: true})
		if err := a.n.Initiate(addrB, clientP2()); err != nil {
			t.Fatal(err)
		}
		settle(5 * time.Second)
		if len(a.n.Phase1()) != 0 || len(b.n.Phase1()) != 0 || len(a.n.Children()) != 0 || len(b.n.Children()) != 0 {
			t.Fatalf("SAs left: a %+v b %+v\nA:\n%s\nB:\n%s", a.n.Phase1(), b.n.Phase1(), a.log, b.log)
		}
		if a.n.Stats().XAuthFailed != 1 || b.n.Stats().XAuthFailed != 1 {
			t.Errorf("XAuthFailed a %d b %d", a.n.Stats().XAuthFailed, b.n.Stats().XAuthFailed)
		}
		if ev := b.find(EventXAuth); ev == nil || ev.Reason != "rejected" || ev.User != "alice" {
			t.Errorf("server's xauth event %+v", ev)
		}
		if b.count(EventModeConfig) != 0 || b.count(EventPhase1Down) != 1 || a.count(EventPhase1Down) != 1 {
			t.Errorf("events a %v b %v", a.events, b.events)
		}
		if !b.log.has("XAUTH failed") {
			t.Errorf("server's log lacks the deletion:\n%s", b.log)
		}
	})
}

// TestXAuthLossy runs XAuth and mode-config over a channel that loses,
// duplicates and reorders datagrams: retransmissions carry it through.
func TestXAuthLossy(t *testing.T) {
	for seed := uint64(1); seed <= 12; seed++ {
		synctest.Test(t, func(t *testing.T) {
			w := newNetwork(seed, 0.2, 0.2)
			w.jitter = 300 * time.Millisecond
			a, b, _ := ezPair(t, w, ezOpts{user: "alice", password: "s3cret", pull: true, aggressive: seed%2 == 0})
			if err := a.n.Initiate(addrB, clientP2()); err != nil {
				t.Fatal(err)
			}
			settle(3 * time.Minute)
			if len(a.n.Children()) < 1 || len(b.n.Children()) < 1 {
				t.Fatalf("seed %d: children a %d b %d\nA:\n%s\nB:\n%s", seed, len(a.n.Children()), len(b.n.Children()), a.log, b.log)
			}
			if c := a.n.Children()[0]; c.Local.Prefix != netip.PrefixFrom(clientAddr, 32) {
				t.Errorf("seed %d: client selector %v", seed, c.Local)
			}
		})
	}
}

// TestModeConfigWithoutXAuth: mode-config alone, in aggressive mode over
// a channel that reorders (the client's request can overtake AM3).
func TestModeConfigWithoutXAuth(t *testing.T) {
	overtook := 0
	for seed := uint64(1); seed <= 8; seed++ {
		synctest.Test(t, func(t *testing.T) {
			w := newNetwork(seed, 0.1, 0.1)
			w.jitter = 200 * time.Millisecond
			a, b, srv := ezPair(t, w, ezOpts{pull: true, aggressive: true, noXAuth: true})
			if err := a.n.Initiate(addrB, clientP2()); err != nil {
				t.Fatal(err)
			}
			settle(2 * time.Minute)
			if len(a.n.Children()) < 1 || len(b.n.Children()) < 1 {
				t.Fatalf("seed %d: children a %d b %d\nA:\n%s\nB:\n%s", seed, len(a.n.Children()), len(b.n.Children()), a.log, b.log)
			}
			if len(srv.auths) != 0 || len(srv.configs) != 1 || srv.configs[0].User != "" || srv.configs[0].ID != "VPNGROUP" {
				t.Errorf("seed %d: auths %+v configs %+v", seed, srv.auths, srv.configs)
			}
			if c := a.n.Children()[0]; c.Local.Prefix != netip.PrefixFrom(clientAddr, 32) {
				t.Errorf("seed %d: client selector %v", seed, c.Local)
			}
			if b.log.has("overtook phase 1") {
				overtook++
			}
		})
	}
	if overtook == 0 {
		t.Error("in no run did the request overtake AM3: the seeds no longer test it")
	}
}

// TestXAuthClientSilent: a client that never answers the XAuth request
// loses its phase-1 SA after the retransmissions, and one whose AAA
// never answers after the XAuth timeout.
func TestXAuthClientSilent(t *testing.T) {
	t.Run("no-reply", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			w := newNetwork(9, 0, 0)
			w.drop = func(b []byte, from, _ netip.AddrPort) bool {
				h, err := isakmp.ParseHeader(b)
				return err == nil && from == addrA && h.Exchange == isakmp.ExchangeTransaction
			}
			a, b, _ := ezPair(t, w, ezOpts{user: "alice", password: "s3cret", pull: true})
			if err := a.n.Initiate(addrB, clientP2()); err != nil {
				t.Fatal(err)
			}
			settle(2 * time.Minute)
			if len(b.n.Phase1()) != 0 || b.n.Stats().XAuthTimeout != 1 {
				t.Fatalf("server: %+v, stats %+v\n%s", b.n.Phase1(), b.n.Stats(), b.log)
			}
			if !b.log.has("retransmit IKE_XAUTH_REQ_SENT") || !b.log.has("New State = IKE_DEST_SA") {
				t.Errorf("server's log lacks the give-up:\n%s", b.log)
			}
			if len(a.n.Children()) != 0 {
				t.Errorf("client has children")
			}
		})
	})
	t.Run("aaa-silent", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			w := newNetwork(10, 0, 0)
			a, b, _ := ezPair(t, w, ezOpts{user: "alice", password: "s3cret", pull: true, silentAAA: true})
			if err := a.n.Initiate(addrB, clientP2()); err != nil {
				t.Fatal(err)
			}
			settle(2 * time.Minute)
			if len(b.n.Phase1()) != 0 || b.n.Stats().XAuthTimeout != 1 || len(a.n.Phase1()) != 0 {
				t.Fatalf("server %+v client %+v stats %+v\n%s", b.n.Phase1(), a.n.Phase1(), b.n.Stats(), b.log)
			}
		})
	})
	t.Run("server-never-asks", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			w := newNetwork(11, 0, 0)
			w.drop = func(b []byte, from, _ netip.AddrPort) bool {
				h, err := isakmp.ParseHeader(b)
				return err == nil && from == addrB && h.Exchange == isakmp.ExchangeTransaction
			}
			a, _, _ := ezPair(t, w, ezOpts{user: "alice", password: "s3cret", pull: true})
			if err := a.n.Initiate(addrB, clientP2()); err != nil {
				t.Fatal(err)
			}
			settle(2 * time.Minute)
			if len(a.n.Phase1()) != 0 || a.n.Stats().XAuthTimeout != 1 {
				t.Fatalf("client %+v stats %+v\n%s", a.n.Phase1(), a.n.Stats(), a.log)
			}
		})
	})
}

func TestModeConfigPoolExhausted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNetwork(12, 0, 0)
		a, b, _ := ezPair(t, w, ezOpts{user: "alice", password: "s3cret", pull: true, configErr: errors.New("pool VPN exhausted")})
		if err := a.n.Initiate(addrB, clientP2()); err != nil {
			t.Fatal(err)
		}
		settle(5 * time.Second)
		if len(a.n.Phase1()) != 0 || len(b.n.Phase1()) != 0 || b.n.Stats().ModeConfigFailed != 1 {
			t.Fatalf("a %+v b %+v stats %+v\nB:\n%s", a.n.Phase1(), b.n.Phase1(), b.n.Stats(), b.log)
		}
		if ev := b.find(EventPhase1Down); ev == nil || ev.Reason != "mode-config failed: pool VPN exhausted" {
			t.Errorf("server's phase1-down %+v", ev)
		}
		if ev := a.find(EventPhase1Down); ev == nil || ev.Reason != "deleted by peer" {
			t.Errorf("client's phase1-down %+v", ev)
		}
	})
}

// TestXAuthQuickModeWaits: a peer that skips XAuth and sends a quick mode
// at once gets nothing until XAuth is done.
func TestXAuthQuickModeWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNetwork(13, 0, 0)
		a, b, _ := ezPair(t, w, ezOpts{user: "alice", password: "s3cret"})
		// The client's answer to XAuth is lost for good; its quick mode
		// (started by a misbehaving client) must not be answered.
		w.drop = func(b []byte, from, _ netip.AddrPort) bool {
			h, err := isakmp.ParseHeader(b)
			return err == nil && from == addrA && h.Exchange == isakmp.ExchangeTransaction
		}
		a.n.cfg.XAuthCredentials = func(netip.Addr) (string, string) { return "alice", "s3cret" }
		if err := a.n.Initiate(addrB, p2For()); err != nil {
			t.Fatal(err)
		}
		settle(2 * time.Second)
		a.n.mu.Lock()
		for _, p := range a.n.sas {
			p.ez.client = false // pretend XAuth is over on the client's side
			p.startQM(&Phase2Policy{TransformSets: []TransformSet{{Name: "TS", ESP: 12, KeyBits: 256, Auth: 2}}, Local: Selector{Prefix: netip.PrefixFrom(clientAddr, 32)}, Remote: Selector{Prefix: netB}})
		}
		a.n.unlock()
		settle(5 * time.Second)
		if len(b.n.Children()) != 0 || !b.log.has("before XAuth completed, dropped") {
			t.Fatalf("server answered a quick mode before XAuth:\n%s", b.log)
		}
	})
}

func TestParseModeConfigRoundTrip(t *testing.T) {
	attrs := appendModeConfig(nil, &clientCfg)
	var b []byte
	for _, a := range attrs {
		b = isakmp.AppendAttr(b, a)
	}
	got, err := parseModeConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != clientCfg.String() || got.Banner != clientCfg.Banner || !got.SavePassword {
		t.Errorf("got %v, want %v", got, &clientCfg)
	}
	for _, bad := range []struct {
		name string
		attr isakmp.Attr
	}{
		{"short address", isakmp.VarAttr(isakmp.CfgInternalIP4Address, []byte{1, 2, 3})},
		{"basic address", isakmp.BasicAttr(isakmp.CfgInternalIP4DNS, 7)},
		{"split of 13", isakmp.VarAttr(isakmp.UnitySplitInclude, make([]byte, 13))},
		{"split mask holes", isakmp.VarAttr(isakmp.UnitySplitInclude, []byte{198, 19, 0, 0, 255, 0, 255, 0, 0, 0, 0, 0, 0, 0})},
		{"netmask holes", isakmp.VarAttr(isakmp.CfgInternalIP4Netmask, []byte{255, 0, 255, 0})},
		{"long banner", isakmp.VarAttr(isakmp.UnityBanner, make([]byte, maxModeCfgString+1))},
	} {
		if _, err := parseModeConfig(isakmp.AppendAttr(nil, bad.attr)); err == nil {
			t.Errorf("%s: accepted", bad.name)
		}
	}
	if _, err := parseModeConfig([]byte{0, 1, 0, 9, 1}); err == nil {
		t.Error("truncated attribute accepted")
	}
	if _, err := parseXAuth(isakmp.AppendAttr(nil, isakmp.BasicAttr(isakmp.XAuthUserName, 1))); err == nil {
		t.Error("basic user name accepted")
	}
	x, err := parseXAuth(isakmp.AppendAttr(isakmp.AppendAttr(nil, isakmp.VarAttr(isakmp.XAuthUserName, []byte("bob"))), isakmp.VarAttr(isakmp.XAuthPassword, []byte("pw\x00"))))
	if err != nil || x.user != "bob" || x.password != "pw" || !x.hasUser || !x.hasPass {
		t.Errorf("parseXAuth: %+v %v", x, err)
	}
}

// FuzzModeConfig feeds arbitrary attribute lists to the mode-config and
// XAuth parsers: no panic, and what parses re-encodes to something that
// parses alike.
func FuzzModeConfig(f *testing.F) {
	var seed []byte
	for _, a := range appendModeConfig(nil, &clientCfg) {
		seed = isakmp.AppendAttr(seed, a)
	}
	f.Add(seed)
	f.Add(isakmp.AppendAttr(nil, isakmp.BasicAttr(isakmp.XAuthStatus, 1)))
	f.Add([]byte{0x80, 0x01, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseXAuth(b)
		m, err := parseModeConfig(b)
		if err != nil {
			return
		}
		var again []byte
		for _, a := range appendModeConfig(nil, m) {
			again = isakmp.AppendAttr(again, a)
		}
		m2, err := parseModeConfig(again)
		if err != nil {
			t.Fatalf("re-encoded %x does not parse: %v", again, err)
		}
		if m2.String() != m.String() {
			t.Fatalf("round trip: %v != %v", m2, m)
		}
	})
}

// BenchmarkEasyVPNSetup measures a whole Easy VPN connection between two
// Nodes delivering to each other directly: aggressive mode, XAuth,
// mode-config and quick mode (group 14, AES-256, SHA-1); with plain, the
// same without XAuth and mode-config, for the ratio.
func BenchmarkEasyVPNSetup(b *testing.B) {
	for _, ez := range []bool{true, false} {
		name := "plain"
		if ez {
			name = "xauth-modecfg"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				var nodes [2]*Node
				up := 0
				for i, addr := range []netip.AddrPort{addrA, addrB} {
					peer := 1 - i
					cfg := Config{Local: addr, Clock: clock.Real,
						Send:       func(p []byte, _ netip.AddrPort) { nodes[peer].HandlePacket(p, addr) },
						OnEvent:    func(e Event) { up += b2i(e.Kind == EventChildUp) },
						Policies:   []Policy{{Priority: 10, Encryption: CipherAES, KeyBits: 256, Hash: HashSHA1, Group: Group14}},
						Key:        func(netip.Addr, []byte) []byte { return []byte("groupkey") },
						Aggressive: i == 0, AcceptAggressive: true,
						Phase2: func(_ netip.AddrPort, _ string, l, r Selector) *Phase2Policy {
							return &Phase2Policy{TransformSets: []TransformSet{{Name: "TS", ESP: 12, KeyBits: 256, Auth: 2}}, Local: l, Remote: r}
						},
					}
					if ez && i == 0 {
						cfg.GroupID, cfg.RequestModeConfig = "VPNGROUP", true
						cfg.XAuthCredentials = func(netip.Addr) (string, string) { return "alice", "s3cret" }
					}
					if ez && i == 1 {
						cfg.XAuth = func(netip.Addr, []byte) bool { return true }
						cfg.Authenticate = func(r XAuthRequest, done func(bool)) { done(r.Password == "s3cret") }
						cfg.ModeConfig = func(ConfigRequest) (*ModeConfig, error) { mc := clientCfg; return &mc, nil }
					}
					n, err := New(cfg)
					if err != nil {
						b.Fatal(err)
					}
					nodes[i] = n
				}
				pol := clientP2()
				if !ez {
					pol = p2For()
				}
				if err := nodes[0].Initiate(addrB, pol); err != nil {
					b.Fatal(err)
				}
				if up != 2 {
					b.Fatalf("%d child SAs up", up)
				}
				nodes[0].Close()
				nodes[1].Close()
			}
		})
	}
}

func b2i(v bool) int {
	if v {
		return 1
	}
	return 0
}

// TestConnectThenQuickModes: an Easy VPN remote negotiates phase 1, XAuth
// and mode-config alone (Connect), learns the split networks, then asks
// for one quick mode per network, each from the assigned address; a
// second Connect while the SA stands starts nothing.
func TestConnectThenQuickModes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNetwork(11, 0, 0)
		a, b, _ := ezPair(t, w, ezOpts{user: "alice", password: "s3cret", pull: true, aggressive: true})
		if err := a.n.Connect(addrB); err != nil {
			t.Fatal(err)
		}
		settle(5 * time.Second)
		ev := a.find(EventModeConfig)
		if ev == nil || ev.Config.Address != clientAddr {
			t.Fatalf("no mode-config: %v\n%s", a.events, a.log)
		}
		if n := len(a.n.Children()); n != 0 {
			t.Fatalf("%d child SAs before any quick mode", n)
		}
		if err := a.n.Connect(addrB); err != nil {
			t.Fatal(err)
		}
		for _, p := range ev.Config.SplitInclude {
			pol := clientP2()
			pol.Remote = Selector{Prefix: p}
			if err := a.n.Initiate(addrB, pol); err != nil {
				t.Fatal(err)
			}
		}
		settle(5 * time.Second)
		if p1 := a.n.Phase1(); len(p1) != 1 {
			t.Errorf("phase-1 SAs %+v", p1)
		}
		ca := a.n.Children()
		if len(ca) != 2 {
			t.Fatalf("children %+v\n%s", ca, b.log)
		}
		for _, c := range ca {
			if c.Local.Prefix != netip.PrefixFrom(clientAddr, 32) {
				t.Errorf("child %v -> %v", c.Local, c.Remote)
			}
		}
	})
}
