package ppp

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/aaa"
	wire "github.com/vpdn/vpdn/wire/ppp"
)

func bringUp(t *testing.T, lc, cc Config) (*endpoint, *endpoint, *link2) {
	t.Helper()
	lns, cli, w := newPair(t, lc, cc)
	startBoth(lns, cli)
	synctest.Wait()
	return lns, cli, w
}

func inject(e *endpoint, proto wire.Protocol, code wire.Code, id uint8, data []byte) {
	f := wire.Framing{AddressControl: true}.Append(nil, proto)
	f = wire.AppendPacket(f, code, id, data)
	e.r.Post(func() { e.l.Input(f) })
	synctest.Wait()
}

func TestIPv6CP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		users := &fakeAAA{users: map[string]string{"labuser": "labpass"}}
		lc, cc := lnsConfig(users, &fakePool{}, aaa.CHAP), clientConfig("labuser", "labpass")
		lc.IPv6CP.Enabled, cc.IPv6CP.Enabled = true, true
		lns, cli, _ := bringUp(t, lc, cc)
		lup, ok1 := lns.h.up(wire.ProtoIPv6CP)
		cup, ok2 := cli.h.up(wire.ProtoIPv6CP)
		if !ok1 || !ok2 {
			t.Fatal("IPv6CP not up")
		}
		if lup.Info.LocalIfID.IsZero() || lup.Info.LocalIfID != cup.Info.PeerIfID || cup.Info.LocalIfID != lup.Info.PeerIfID || lup.Info.LocalIfID == cup.Info.LocalIfID {
			t.Fatalf("identifiers: lns %x/%x client %x/%x", lup.Info.LocalIfID, lup.Info.PeerIfID, cup.Info.LocalIfID, cup.Info.PeerIfID)
		}
		if _, ok := cli.h.up(wire.ProtoIPCP); !ok {
			t.Fatal("IPCP not up beside IPv6CP")
		}
	})
}

// TestIPv6CPCollision configures the same identifier on both ends: RFC
// 5072 §4.1 has them Nak and end with different identifiers.
func TestIPv6CPCollision(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		same := wire.InterfaceID{2, 0, 0, 0, 0, 0, 0, 1}
		lc, cc := Config{}, Config{IPCP: IPCPConfig{Disabled: true}}
		lc.IPCP.Disabled = true
		lc.IPv6CP, cc.IPv6CP = IPv6CPConfig{Enabled: true, InterfaceID: same}, IPv6CPConfig{Enabled: true, InterfaceID: same}
		lns, cli, _ := bringUp(t, lc, cc)
		lup, ok1 := lns.h.up(wire.ProtoIPv6CP)
		cup, ok2 := cli.h.up(wire.ProtoIPv6CP)
		if !ok1 || !ok2 {
			t.Fatal("IPv6CP not up")
		}
		if lup.Info.LocalIfID == cup.Info.LocalIfID || lup.Info.PeerIfID != cup.Info.LocalIfID || cup.Info.PeerIfID != lup.Info.LocalIfID {
			t.Fatalf("identifiers: lns %x/%x client %x/%x", lup.Info.LocalIfID, lup.Info.PeerIfID, cup.Info.LocalIfID, cup.Info.PeerIfID)
		}
		if lns.sent.count(wire.ProtoIPv6CP, wire.ConfNak)+cli.sent.count(wire.ProtoIPv6CP, wire.ConfNak) == 0 {
			t.Fatal("no Nak on a collision")
		}
	})
}

// TestIPv6CPProtocolRejected: a peer without IPv6 rejects IPv6CP; IPCP and
// the link stay up.
func TestIPv6CPProtocolRejected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		users := &fakeAAA{users: map[string]string{"labuser": "labpass"}}
		lc := lnsConfig(users, &fakePool{}, aaa.PAP)
		lc.IPv6CP.Enabled = true
		lns, cli, _ := bringUp(t, lc, clientConfig("labuser", "labpass"))
		if cli.sent.count(wire.ProtoLCP, wire.ProtoRej) != 1 {
			t.Fatal("client did not Protocol-Reject IPv6CP")
		}
		if _, ok := lns.h.up(wire.ProtoIPCP); !ok {
			t.Fatal("IPCP not up")
		}
		if _, down := lns.h.linkDown(); down {
			t.Fatal("link went down")
		}
		if in := lns.info(); in.IPv6CP != Stopped {
			t.Fatalf("IPv6CP %s", in.IPv6CP)
		}
	})
}

// TestIPv6CPIfAuthorized: with IfAuthorized, IPv6CP runs for a user
// whose authorization carries a Framed-IPv6-Prefix; for another the LNS
// answers the client's IPv6CP with Protocol-Reject (RFC 1661 §5.7) and
// IPCP alone comes up.
func TestIPv6CPIfAuthorized(t *testing.T) {
	for _, tc := range []struct {
		user string
		up   bool
	}{{"v6user", true}, {"v4user", false}} {
		t.Run(tc.user, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				users := &fakeAAA{users: map[string]string{tc.user: "pw"},
					v6: map[string][]netip.Prefix{"v6user": {netip.MustParsePrefix("2001:db8:5::/64")}}}
				lc, cc := lnsConfig(users, &fakePool{}, aaa.CHAP), clientConfig(tc.user, "pw")
				lc.IPv6CP.IfAuthorized, cc.IPv6CP.Enabled = true, true
				lns, cli, _ := bringUp(t, lc, cc)
				_, up := lns.h.up(wire.ProtoIPv6CP)
				if up != tc.up {
					t.Fatalf("IPv6CP up %v, want %v", up, tc.up)
				}
				if rej := lns.sent.count(wire.ProtoLCP, wire.ProtoRej); (rej > 0) == tc.up {
					t.Fatalf("%d Protocol-Rejects", rej)
				}
				if _, ok := cli.h.up(wire.ProtoIPCP); !ok {
					t.Fatal("IPCP not up")
				}
			})
		})
	}
}

// TestIPv6CPZeroID: a peer asking for the zero interface identifier is
// Nak'd with a non-zero one that differs from ours (RFC 5072 §4.1).
func TestIPv6CPZeroID(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lc, cc := Config{IPCP: IPCPConfig{Disabled: true}}, Config{IPCP: IPCPConfig{Disabled: true}}
		lc.IPv6CP = IPv6CPConfig{Enabled: true, InterfaceID: wire.InterfaceID{2, 0, 0, 0, 0, 0, 0, 9}}
		cc.IPv6CP = IPv6CPConfig{Enabled: true, InterfaceID: wire.InterfaceID{}}
		// A zero configured identifier means a random one: the zero
		// request is injected.
		lns, _, _ := bringUp(t, lc, cc)
		before := lns.sent.count(wire.ProtoIPv6CP, wire.ConfNak)
		inject(lns, wire.ProtoIPv6CP, wire.ConfReq, 77, wire.AppendOptionInterfaceID(nil, wire.InterfaceID{}))
		if lns.sent.count(wire.ProtoIPv6CP, wire.ConfNak) != before+1 {
			t.Fatal("zero identifier not Nak'd")
		}
		naks := lns.sent.find(wire.ProtoIPv6CP, wire.ConfNak)
		it := wire.Options(naks[len(naks)-1])
		if !it.Next() {
			t.Fatal("empty Nak")
		}
		id, err := wire.OptionInterfaceID(it.Option().Value)
		if err != nil || id.IsZero() || id == lc.IPv6CP.InterfaceID {
			t.Fatalf("Nak suggests %x (%v)", id, err)
		}
	})
}

// TestCCPRejectsEverything: a peer's CCP request (MPPE, option 18) is
// rejected option by option; an empty one is acknowledged.
func TestCCPRejectsEverything(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		users := &fakeAAA{users: map[string]string{"labuser": "labpass"}}
		lns, _, w := bringUp(t, lnsConfig(users, &fakePool{}, aaa.PAP), clientConfig("labuser", "labpass"))
		// The test plays the peer's CCP: the client does not see ours.
		w.setDrop(func(from string, f []byte) bool { p, _, _ := wire.ParseFrame(f); return p == wire.ProtoCCP })
		if lns.sent.count(wire.ProtoCCP, wire.ConfReq) != 0 {
			t.Fatal("this end started CCP")
		}
		mppe := []byte{18, 6, 0x01, 0x00, 0x00, 0x60, 17, 6, 0, 0, 0, 0}
		inject(lns, wire.ProtoCCP, wire.ConfReq, 1, mppe)
		rej := lns.sent.find(wire.ProtoCCP, wire.ConfRej)
		if len(rej) != 1 || !bytes.Equal(rej[0], mppe) {
			t.Fatalf("Configure-Reject %x, want %x", rej, mppe)
		}
		if n := lns.sent.count(wire.ProtoCCP, wire.ConfReq); n != 1 {
			t.Fatalf("%d CCP requests of our own, want one (empty)", n)
		}
		inject(lns, wire.ProtoCCP, wire.ConfReq, 2, nil)
		reqs := lns.sent.find(wire.ProtoCCP, wire.ConfReq)
		inject(lns, wire.ProtoCCP, wire.ConfAck, 1, reqs[0])
		if in := lns.info(); in.CCP != Opened {
			t.Fatalf("CCP %s", in.CCP)
		}
		inject(lns, wire.ProtoCCP, wire.ResetReq, 3, nil) // ignored, no Code-Reject
		if lns.sent.count(wire.ProtoCCP, wire.CodeRej) != 0 {
			t.Fatal("Reset-Request code-rejected")
		}
	})
}

func TestProtocolAndCodeReject(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		users := &fakeAAA{users: map[string]string{"labuser": "labpass"}}
		lns, _, _ := bringUp(t, lnsConfig(users, &fakePool{}, aaa.PAP), clientConfig("labuser", "labpass"))
		// IPXCP (0x802B) is not run here.
		f := wire.Framing{AddressControl: true}.Append(nil, 0x802B)
		f = append(f, 1, 1, 0, 4)
		lns.r.Post(func() { lns.l.Input(f) })
		synctest.Wait()
		pr := lns.sent.find(wire.ProtoLCP, wire.ProtoRej)
		if len(pr) != 1 || !bytes.Equal(pr[0], []byte{0x80, 0x2B, 1, 1, 0, 4}) {
			t.Fatalf("Protocol-Reject %x", pr)
		}
		// An unknown LCP code.
		inject(lns, wire.ProtoLCP, 0x20, 9, []byte{0xAA})
		cr := lns.sent.find(wire.ProtoLCP, wire.CodeRej)
		if len(cr) != 1 || !bytes.Equal(cr[0], []byte{0x20, 9, 0, 5, 0xAA}) {
			t.Fatalf("Code-Reject %x", cr)
		}
		// Identification and Time-Remaining are tolerated.
		inject(lns, wire.ProtoLCP, wire.Identification, 10, []byte{0, 0, 0, 0, 'h', 'i'})
		inject(lns, wire.ProtoLCP, wire.TimeRemaining, 11, []byte{0, 0, 0, 0, 0, 0, 0, 60})
		if lns.sent.count(wire.ProtoLCP, wire.CodeRej) != 1 {
			t.Fatal("Identification or Time-Remaining code-rejected")
		}
		// A catastrophic Code-Reject (of Configure-Request) closes LCP.
		inject(lns, wire.ProtoLCP, wire.CodeRej, 12, []byte{1, 1, 0, 4})
		time.Sleep(time.Minute)
		synctest.Wait()
		if r, ok := lns.h.linkDown(); !ok || !strings.Contains(r, "rejected code CONFREQ") {
			t.Fatalf("down %v %q", ok, r)
		}
	})
}

// TestLoopback feeds a link its own frames: Magic-Number detects it.
func TestLoopback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRunner()
		defer r.Close()
		h := &recorder{}
		var l *Link
		l, err := NewLink(Config{Post: r.Post, Handler: h, AddressControl: true, Logger: testLogger(t),
			Output: OutputFunc(func(b []byte) error {
				c := bytes.Clone(b)
				r.Post(func() { l.Input(c) })
				return nil
			})})
		if err != nil {
			t.Fatal(err)
		}
		r.Post(l.Start)
		time.Sleep(time.Minute)
		synctest.Wait()
		if reason, ok := h.linkDown(); !ok || reason != "Loopback detected" {
			t.Fatalf("down %v %q", ok, reason)
		}
	})
}

func TestStaticAddressFromAuthorization(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		users := &fakeAAA{users: map[string]string{"labuser": "labpass"}, static: map[string]netip.Addr{"labuser": netip.MustParseAddr("198.19.7.7")},
			dns: []netip.Addr{netip.MustParseAddr("198.19.9.9")}}
		pool := &fakePool{}
		_, cli, _ := bringUp(t, lnsConfig(users, pool, aaa.MSCHAPv2), clientConfig("labuser", "labpass"))
		up, ok := cli.h.up(wire.ProtoIPCP)
		if !ok || up.Info.LocalAddr != netip.MustParseAddr("198.19.7.7") || up.Info.DNS[0] != netip.MustParseAddr("198.19.9.9") || up.Info.DNS[1].IsValid() {
			t.Fatalf("up %v: %v %v", ok, up.Info.LocalAddr, up.Info.DNS)
		}
		if pool.next != 0 {
			t.Fatal("the pool was used despite a static address")
		}
	})
}

func TestPoolExhausted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		users := &fakeAAA{users: map[string]string{"labuser": "labpass"}}
		lc := lnsConfig(users, &fakePool{}, aaa.PAP)
		lc.IPCP.Allocate = func(*aaa.Authorization) (netip.Addr, error) { return netip.Addr{}, context.DeadlineExceeded }
		lns, _, _ := bringUp(t, lc, clientConfig("labuser", "labpass"))
		time.Sleep(time.Minute)
		synctest.Wait()
		if r, ok := lns.h.linkDown(); !ok || r != "No IP address available" {
			t.Fatalf("down %v %q", ok, r)
		}
	})
}

func TestPoolReleasedOnDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		users := &fakeAAA{users: map[string]string{"labuser": "labpass"}}
		pool := &fakePool{}
		lns, cli, _ := bringUp(t, lnsConfig(users, pool, aaa.PAP), clientConfig("labuser", "labpass"))
		if pool.used() != 1 {
			r1, _ := lns.h.linkDown()
			t.Fatalf("%d addresses in use; lns %+v down %q", pool.used(), lns.info(), r1)
		}
		cli.r.Post(func() { cli.l.Close("User request") })
		time.Sleep(time.Minute) // the LNS waits a Restart interval in Stopping
		synctest.Wait()
		if r, ok := lns.h.linkDown(); !ok || r != "Peer terminated LCP" {
			t.Fatalf("lns down %v %q", ok, r)
		}
		if r, ok := cli.h.linkDown(); !ok || r != "User request" {
			t.Fatalf("client down %v %q", ok, r)
		}
		if pool.used() != 0 {
			t.Fatal("address not released")
		}
		// The IPCP Down came before the link's.
		lns.h.mu.Lock()
		defer lns.h.mu.Unlock()
		if len(lns.h.downs) != 2 || lns.h.downs[0].Protocol != wire.ProtoIPCP {
			t.Fatalf("downs %+v", lns.h.downs)
		}
	})
}

// TestCallinAndIfNeeded: `callin` skips authenticating outgoing calls;
// if-needed skips an already authenticated user.
func TestCallinAndIfNeeded(t *testing.T) {
	users := &fakeAAA{users: map[string]string{"labuser": "labpass"}}
	for _, c := range []struct {
		name     string
		mod      func(*Config)
		wantAuth bool
	}{
		{"callin, incoming", func(c *Config) { c.Auth.Callin = true }, true},
		{"callin, outgoing", func(c *Config) { c.Auth.Callin, c.Outgoing = true, true }, false},
		{"if-needed, preauthenticated", func(c *Config) {
			c.Auth.IfNeeded = true
			c.Auth.Preauthenticated = &aaa.Result{Accept: true, Authz: aaa.Authorization{Username: "pre"}}
		}, false},
		{"if-needed, not preauthenticated", func(c *Config) { c.Auth.IfNeeded = true }, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				lc := lnsConfig(users, &fakePool{}, aaa.CHAP)
				c.mod(&lc)
				lns, _, _ := bringUp(t, lc, clientConfig("labuser", "labpass"))
				up, ok := lns.h.up(wire.ProtoIPCP)
				if !ok {
					t.Fatal("not up")
				}
				if (up.Info.AuthPeer == aaa.CHAP) != c.wantAuth || (lns.sent.count(wire.ProtoCHAP, wire.CHAPChallenge) > 0) != c.wantAuth {
					t.Fatalf("authenticated %v, want %v", up.Info.AuthPeer, c.wantAuth)
				}
				if !c.wantAuth && lc.Auth.Preauthenticated != nil && up.Info.Username != "pre" {
					t.Fatalf("username %q", up.Info.Username)
				}
			})
		})
	}
}

// TestLCPRenegotiation: a new Configure-Request on an open link takes the
// network down, authenticates again and comes back up.
func TestLCPRenegotiation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		users := &fakeAAA{users: map[string]string{"labuser": "labpass"}}
		lns, cli, _ := bringUp(t, lnsConfig(users, &fakePool{}, aaa.CHAP), clientConfig("labuser", "labpass"))
		cli.r.Post(func() { cli.l.lcp.event(evRCA) }) // Opened + RCA: tld, scr
		synctest.Wait()
		lns.h.mu.Lock()
		ups, downs := len(lns.h.ups), len(lns.h.downs)
		lns.h.mu.Unlock()
		if ups != 2 || downs != 1 {
			t.Fatalf("lns saw %d ups and %d downs, want 2 and 1", ups, downs)
		}
		if n := lns.sent.count(wire.ProtoCHAP, wire.CHAPChallenge); n != 2 {
			t.Fatalf("%d challenges", n)
		}
		if in := lns.info(); in.IPCP != Opened || in.PeerAddr != netip.MustParseAddr("198.19.0.10") {
			t.Fatalf("after renegotiation: %s %v", in.IPCP, in.PeerAddr)
		}
	})
}

// TestProxyLCP starts the LNS from the LCP a LAC negotiated, under each
// renegotiation policy.
func TestProxyLCP(t *testing.T) {
	lacSent := func(m aaa.Method) []byte { // what the LAC asked of the client for us
		b := wire.AppendAuthProtoOption(nil, authProtoOf(m))
		return wire.AppendOptionUint32(b, wire.LCPOptMagic, 0x11111111)
	}
	clientSent := wire.AppendOptionUint32(wire.AppendOptionUint16(nil, wire.LCPOptMRU, 1400), wire.LCPOptMagic, 0x22222222)
	for _, c := range []struct {
		name      string
		policy    Renegotiation
		proxied   aaa.Method
		wantConfs bool
		wantAuth  aaa.Method
	}{
		{"never", RenegotiateNever, aaa.CHAP, false, aaa.CHAP},
		{"never, other method", RenegotiateNever, aaa.PAP, false, aaa.PAP},
		{"on-mismatch, matching", RenegotiateOnMismatch, aaa.CHAP, false, aaa.CHAP},
		{"on-mismatch, mismatching", RenegotiateOnMismatch, aaa.PAP, true, aaa.CHAP},
		{"always", RenegotiateAlways, aaa.CHAP, true, aaa.CHAP},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				users := &fakeAAA{users: map[string]string{"labuser": "labpass"}}
				lc := lnsConfig(users, &fakePool{}, aaa.CHAP, aaa.MSCHAPv2)
				lc.ProxyLCP = &ProxyLCP{LastSent: lacSent(c.proxied), LastReceived: clientSent}
				lc.Renegotiate = c.policy
				cc := clientConfig("labuser", "labpass")
				// The client negotiated with the LAC: its LCP is open too.
				cc.ProxyLCP = &ProxyLCP{LastSent: clientSent, LastReceived: lacSent(c.proxied)}
				lns, cli, _ := bringUp(t, lc, cc)
				up, ok := lns.h.up(wire.ProtoIPCP)
				if !ok {
					r, _ := lns.h.linkDown()
					t.Fatalf("not up: %q", r)
				}
				if got := lns.sent.count(wire.ProtoLCP, wire.ConfReq) > 0; got != c.wantConfs {
					t.Fatalf("LCP renegotiated %v, want %v", got, c.wantConfs)
				}
				if up.Info.AuthPeer != c.wantAuth {
					t.Fatalf("authenticated with %v, want %v", up.Info.AuthPeer, c.wantAuth)
				}
				if !c.wantConfs && (up.Info.PeerMRU != 1400 || up.Info.Magic != 0x11111111 || up.Info.PeerMagic != 0x22222222) {
					t.Fatalf("proxied values not used: %+v", up.Info)
				}
				_ = cli
			})
		})
	}
}

// TestDebugLines pins the IOS shape of the debug output.
func TestDebugLines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf syncBuffer
		log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		users := &fakeAAA{users: map[string]string{"labuser": "labpass"}}
		lc := lnsConfig(users, &fakePool{}, aaa.CHAP)
		lc.Logger = log
		bringUp(t, lc, clientConfig("labuser", "labpass"))
		out := buf.String()
		for _, want := range []string{
			`msg="A PPP: Phase is ESTABLISHING" debug="ppp negotiation"`,
			`msg="A LCP: O CONFREQ [Closed] id 1 len 15" debug="ppp negotiation"`,
			`msg="A LCP:    AuthProto CHAP (0x0305C22305)"`,
			`msg="A LCP: State is Open"`,
			`msg="A CHAP: O CHALLENGE id 1 len 24 from \"LNS\"" debug="ppp authentication"`,
			`msg="A CHAP: I RESPONSE id 1 len 28 from \"labuser\"" debug="ppp authentication"`,
			`msg="A CHAP: O SUCCESS id 1 len 4" debug="ppp authentication"`,
			`msg="A IPCP: O CONFNAK [REQsent] id 1 len 22"`,
			`msg="A IPCP:    Address 198.19.0.10 (0x0306C613000A)"`,
			`msg="A IPCP: State is Open"`,
		} {
			if !strings.Contains(out, want) {
				t.Errorf("missing %s", want)
			}
		}
		if t.Failed() {
			t.Log(out)
		}
	})
}

// closeOnUp is a Handler that closes the link from inside Up, as an owner
// enforcing a policy might.
type closeOnUp struct {
	*recorder
	l **Link
}

func (c closeOnUp) Up(ev UpEvent) {
	c.recorder.Up(ev)
	(*c.l).Close("Policy: no sessions for you")
}

func TestHandlerReentry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		users := &fakeAAA{users: map[string]string{"labuser": "labpass"}}
		lns, cli, _ := newPair(t, lnsConfig(users, &fakePool{}, aaa.PAP), clientConfig("labuser", "labpass"))
		lns.l.cfg.Handler = closeOnUp{lns.h, &lns.l}
		startBoth(lns, cli)
		time.Sleep(time.Minute)
		synctest.Wait()
		if r, ok := lns.h.linkDown(); !ok || r != "Policy: no sessions for you" {
			t.Fatalf("lns down %v %q", ok, r)
		}
		if r, ok := cli.h.linkDown(); !ok || r != "Peer terminated LCP" {
			t.Fatalf("client down %v %q", ok, r)
		}
		if in := lns.info(); in.LCP != Closed || in.IPCP == Opened {
			t.Fatalf("lns LCP %s IPCP %s", in.LCP, in.IPCP)
		}
	})
}

// TestNCPTimeoutClosesLink: IPCP that never converges finishes, and with
// no network protocol left the link closes.
func TestNCPTimeoutClosesLink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		users := &fakeAAA{users: map[string]string{"labuser": "labpass"}}
		cc := clientConfig("labuser", "labpass")
		cc.MaxConfigure = 20 // the LNS gives up first
		lns, cli, w := newPair(t, lnsConfig(users, &fakePool{}, aaa.PAP), cc)
		w.setDrop(func(from string, f []byte) bool {
			p, _, _ := wire.ParseFrame(f)
			return from == "B" && p == wire.ProtoIPCP
		})
		startBoth(lns, cli)
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		r, ok := lns.h.linkDown()
		if !ok || r != "No network protocols running (IPCP negotiation timed out (Max-Configure))" {
			t.Fatalf("down %v %q", ok, r)
		}
		if n := lns.sent.count(wire.ProtoIPCP, wire.ConfReq); n != 10 {
			t.Fatalf("%d IPCP requests", n)
		}
		// IPCP finished in Stopped, then LCP going down moved it to Starting.
		if in := lns.info(); in.LCP != Closed || in.IPCP != Starting {
			t.Fatalf("LCP %s IPCP %s", in.LCP, in.IPCP)
		}
	})
}

// TestLowerDown: the tunnel session vanished; the link finishes at once.
func TestLowerDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		users := &fakeAAA{users: map[string]string{"labuser": "labpass"}}
		pool := &fakePool{}
		lns, _, _ := bringUp(t, lnsConfig(users, pool, aaa.PAP), clientConfig("labuser", "labpass"))
		lns.r.Post(lns.l.LowerDown)
		synctest.Wait()
		if r, ok := lns.h.linkDown(); !ok || r != "Lower layer down" {
			t.Fatalf("down %v %q", ok, r)
		}
		var done bool
		lns.r.Do(func() { done = lns.l.Done() })
		if !done || pool.used() != 0 || lns.sent.count(wire.ProtoLCP, wire.TermReq) != 0 {
			t.Fatalf("done %v, pool %d, terminate sent %d", done, pool.used(), lns.sent.count(wire.ProtoLCP, wire.TermReq))
		}
		// A finished link ignores input.
		n := lns.l.Stats().InFrames
		inject(lns, wire.ProtoLCP, wire.EchoReq, 1, []byte{0, 0, 0, 0})
		if lns.l.Stats().InFrames != n {
			t.Fatal("input counted after the link finished")
		}
	})
}

// TestAuthProtocolRejected: a peer that Protocol-Rejects the CHAP it
// agreed to fails authentication.
func TestAuthProtocolRejected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		users := &fakeAAA{users: map[string]string{"labuser": "labpass"}}
		lns, cli, w := newPair(t, lnsConfig(users, &fakePool{}, aaa.CHAP), clientConfig("labuser", "labpass"))
		replaceOnce(w, "B", func(p wire.Protocol, b []byte) bool { return p == wire.ProtoCHAP }, func(b []byte) []byte {
			return nil
		})
		startBoth(lns, cli)
		synctest.Wait()
		inject(lns, wire.ProtoLCP, wire.ProtoRej, 99, []byte{0xc2, 0x23, 1, 1, 0, 4})
		time.Sleep(time.Minute)
		synctest.Wait()
		if r, ok := lns.h.linkDown(); !ok || r != "Peer rejected CHAP" {
			t.Fatalf("down %v %q", ok, r)
		}
	})
}
