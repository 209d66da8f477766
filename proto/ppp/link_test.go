package ppp

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/aaa"
	wire "github.com/vpdn/vpdn/wire/ppp"
)

// lnsConfig is a server: it authenticates with methods and assigns
// addresses from pool.
func lnsConfig(a *fakeAAA, pool *fakePool, methods ...aaa.Method) Config {
	return Config{
		Auth: AuthConfig{Methods: methods, AAA: a, Hostname: "LNS"},
		IPCP: IPCPConfig{
			Local:    netip.MustParseAddr("198.19.0.1"),
			Allocate: pool.Allocate, Release: pool.Release,
			DNS: [2]netip.Addr{netip.MustParseAddr("198.19.0.53"), netip.MustParseAddr("198.19.0.54")},
		},
	}
}

func clientConfig(user, pw string) Config {
	return Config{
		Auth: AuthConfig{Hostname: user, Password: pw},
		IPCP: IPCPConfig{Client: true, RequestDNS: true},
	}
}

func TestPAPBringUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := &fakeAAA{users: map[string]string{"labuser": "labpass"}}
		pool := &fakePool{}
		lns, cli, _ := newPair(t, lnsConfig(a, pool, aaa.PAP), clientConfig("labuser", "labpass"))
		startBoth(lns, cli)
		synctest.Wait()
		up, ok := cli.h.up(wire.ProtoIPCP)
		if !ok {
			t.Fatalf("client IPCP not up; lns %+v cli %+v", lns.info(), cli.info())
		}
		if up.Info.LocalAddr != netip.MustParseAddr("198.19.0.10") || up.Info.PeerAddr != netip.MustParseAddr("198.19.0.1") {
			t.Fatalf("client addresses %v %v", up.Info.LocalAddr, up.Info.PeerAddr)
		}
		if up.Info.DNS[0] != netip.MustParseAddr("198.19.0.53") || up.Info.DNS[1] != netip.MustParseAddr("198.19.0.54") {
			t.Fatalf("client DNS %v", up.Info.DNS)
		}
		sup, ok := lns.h.up(wire.ProtoIPCP)
		if !ok || sup.Info.PeerAddr != netip.MustParseAddr("198.19.0.10") || sup.Info.Username != "labuser" || sup.Info.AuthPeer != aaa.PAP {
			t.Fatalf("lns up %+v %v", sup.Info, ok)
		}
		_ = time.Second
	})
}

var allMethods = []aaa.Method{aaa.PAP, aaa.CHAP, aaa.MSCHAPv1, aaa.MSCHAPv2, aaa.EAPMD5}

// TestAuthMatrix negotiates every method in both roles: the LNS
// authenticating the client, and the client authenticating the LNS.
func TestAuthMatrix(t *testing.T) {
	for _, m := range allMethods {
		for _, dir := range []string{"we-authenticate", "we-are-authenticated", "mutual"} {
			t.Run(m.String()+"/"+dir, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					users := &fakeAAA{users: map[string]string{"labuser": "labpass", "LNS": "lnspass"}, dns: nil}
					pool := &fakePool{}
					lc := lnsConfig(users, pool)
					cc := clientConfig("labuser", "labpass")
					lc.Auth.Password = "lnspass"
					switch dir {
					case "we-authenticate":
						lc.Auth.Methods = []aaa.Method{m}
					case "we-are-authenticated":
						cc.Auth.Methods, cc.Auth.AAA = []aaa.Method{m}, users
					case "mutual":
						lc.Auth.Methods = []aaa.Method{m}
						cc.Auth.Methods, cc.Auth.AAA = []aaa.Method{m}, users
					}
					lns, cli, _ := newPair(t, lc, cc)
					startBoth(lns, cli)
					synctest.Wait()
					lup, ok1 := lns.h.up(wire.ProtoIPCP)
					cup, ok2 := cli.h.up(wire.ProtoIPCP)
					if !ok1 || !ok2 {
						r1, _ := lns.h.linkDown()
						r2, _ := cli.h.linkDown()
						t.Fatalf("not up: lns %q, client %q", r1, r2)
					}
					if dir != "we-are-authenticated" {
						if lup.Info.AuthPeer != m || lup.Info.Username != "labuser" || cup.Info.AuthSelf != m {
							t.Fatalf("lns authenticated with %v as %q; client saw %v", lup.Info.AuthPeer, lup.Info.Username, cup.Info.AuthSelf)
						}
					}
					if dir != "we-authenticate" {
						if cup.Info.AuthPeer != m || cup.Info.Username != "LNS" || lup.Info.AuthSelf != m {
							t.Fatalf("client authenticated with %v as %q; lns saw %v", cup.Info.AuthPeer, cup.Info.Username, lup.Info.AuthSelf)
						}
					}
					if cup.Info.LocalAddr != netip.MustParseAddr("198.19.0.10") || lup.Info.PeerAddr != cup.Info.LocalAddr {
						t.Fatalf("addresses: client %v, lns peer %v", cup.Info.LocalAddr, lup.Info.PeerAddr)
					}
					if m == aaa.MSCHAPv2 && dir == "we-authenticate" {
						// Both ends hold the same MPPE keys, crossed.
						if lup.Info.Keys == nil || cup.Info.Keys == nil ||
							!bytes.Equal(lup.Info.Keys.Send, cup.Info.Keys.Recv) || !bytes.Equal(lup.Info.Keys.Recv, cup.Info.Keys.Send) || len(cup.Info.Keys.Send) != 16 {
							t.Fatalf("MPPE keys: lns %+v, client %+v", lup.Info.Keys, cup.Info.Keys)
						}
					}
				})
			})
		}
	}
}

// TestAuthWrongPassword checks each method fails with the message the
// protocol carries and that both ends go down.
func TestAuthWrongPassword(t *testing.T) {
	want := map[aaa.Method]string{
		aaa.PAP:      "PAP authentication failed: Bad password for labuser",
		aaa.CHAP:     "CHAP authentication failed: Bad CHAP response from labuser",
		aaa.MSCHAPv1: "CHAP authentication failed: E=691 R=0 V=1",
		aaa.MSCHAPv2: "CHAP authentication failed: E=691 R=0 C=",
		aaa.EAPMD5:   "EAP authentication failed",
	}
	for _, m := range allMethods {
		t.Run(m.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				users := &fakeAAA{users: map[string]string{"labuser": "labpass"}}
				pool := &fakePool{}
				lns, cli, _ := newPair(t, lnsConfig(users, pool, m), clientConfig("labuser", "wrong"))
				startBoth(lns, cli)
				synctest.Wait()
				cr, ok := cli.h.linkDown()
				if !ok || !strings.HasPrefix(cr, want[m]) {
					t.Fatalf("client down %v: %q, want prefix %q", ok, cr, want[m])
				}
				if m == aaa.MSCHAPv2 && !strings.Contains(cr, " V=3 M=Bad password") {
					t.Fatalf("MS-CHAPv2 failure text %q", cr)
				}
				lr, ok := lns.h.linkDown()
				if !ok || !strings.HasPrefix(lr, "Authentication failed: bad credentials for labuser") {
					t.Fatalf("lns down %v: %q", ok, lr)
				}
				if _, up := cli.h.up(wire.ProtoIPCP); up {
					t.Fatal("IPCP came up after a failed authentication")
				}
				if pool.used() != 0 {
					t.Fatalf("%d addresses still allocated", pool.used())
				}
			})
		})
	}
}

// TestMSCHAPv2Retry: the LNS allows one retry (R=1 with a new challenge);
// the client asks for a new password and gets in.
func TestMSCHAPv2Retry(t *testing.T) {
	for _, second := range []string{"labpass", "stillwrong"} {
		t.Run(second, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				users := &fakeAAA{users: map[string]string{"labuser": "labpass"}}
				pool := &fakePool{}
				lc := lnsConfig(users, pool, aaa.MSCHAPv2)
				lc.Auth.MSCHAPv2Retries = 1
				cc := clientConfig("labuser", "wrong")
				cc.Auth.RetryPassword = func() string { return second }
				lns, cli, _ := newPair(t, lc, cc)
				startBoth(lns, cli)
				synctest.Wait()
				failures := lns.sent.find(wire.ProtoCHAP, wire.CHAPFailure)
				if len(failures) < 1 || !strings.HasPrefix(string(failures[0]), "E=691 R=1 C=") || !strings.Contains(string(failures[0]), " V=3") {
					t.Fatalf("first failure %q", failures)
				}
				if n := cli.sent.count(wire.ProtoCHAP, wire.CHAPResponse); n != 2 {
					t.Fatalf("client sent %d responses, want 2", n)
				}
				_, up := cli.h.up(wire.ProtoIPCP)
				if second == "labpass" {
					if !up || len(failures) != 1 {
						t.Fatalf("retry with the right password: up %v, failures %q", up, failures)
					}
					return
				}
				if up || len(failures) != 2 || !strings.HasPrefix(string(failures[1]), "E=691 R=0 ") {
					t.Fatalf("retry with a wrong password: up %v, failures %q", up, failures)
				}
			})
		})
	}
}

// TestAuthFallback walks the configured list on Naks. The client refuses
// MS-CHAPv2, CHAP and MS-CHAP and suggests EAP, which is not on the list,
// so `ppp authentication ms-chap-v2 chap pap` walks down to PAP. When the
// suggestion is on the list, the LNS jumps to it.
func TestAuthFallback(t *testing.T) {
	for _, c := range []struct {
		name   string
		refuse []aaa.Method
		naks   int
	}{
		{"walk the list", []aaa.Method{aaa.MSCHAPv2, aaa.CHAP, aaa.MSCHAPv1}, 2},
		{"jump to the suggestion", []aaa.Method{aaa.MSCHAPv2, aaa.CHAP, aaa.MSCHAPv1, aaa.EAPMD5}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				users := &fakeAAA{users: map[string]string{"labuser": "labpass"}}
				cc := clientConfig("labuser", "labpass")
				cc.Auth.Refuse = c.refuse
				lns, cli, _ := newPair(t, lnsConfig(users, &fakePool{}, aaa.MSCHAPv2, aaa.CHAP, aaa.PAP), cc)
				startBoth(lns, cli)
				synctest.Wait()
				up, ok := lns.h.up(wire.ProtoIPCP)
				if !ok || up.Info.AuthPeer != aaa.PAP {
					t.Fatalf("up %v with %v", ok, up.Info.AuthPeer)
				}
				if n := cli.sent.count(wire.ProtoLCP, wire.ConfNak); n != c.naks {
					t.Fatalf("client sent %d Naks, want %d", n, c.naks)
				}
			})
		})
	}
	// A client that refuses everything ends the link.
	synctest.Test(t, func(t *testing.T) {
		users := &fakeAAA{users: map[string]string{"labuser": "labpass"}}
		cc := clientConfig("labuser", "labpass")
		cc.Auth.Refuse = allMethods
		lns, cli, _ := newPair(t, lnsConfig(users, &fakePool{}, aaa.MSCHAPv2, aaa.CHAP), cc)
		startBoth(lns, cli)
		synctest.Wait()
		if r, ok := lns.h.linkDown(); !ok || (r != "Peer refused to authenticate" && r != "No common authentication protocol") {
			t.Fatalf("lns down %v %q", ok, r)
		}
	})
}

// TestSecretForChallenger: with no password of its own, the client answers
// CHAP and MS-CHAPv2 challenges with the secret of the challenger's name
// (IOS: the password of `username <challenger>`); a wrong one fails.
func TestSecretForChallenger(t *testing.T) {
	for _, m := range []aaa.Method{aaa.CHAP, aaa.MSCHAPv2} {
		for _, secrets := range []map[string]string{{"": "labpass"}, {"": "wrong"}} {
			name := m.String() + "/" + secrets[""]
			t.Run(name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					lc := lnsConfig(&fakeAAA{users: map[string]string{"labuser": "labpass"}}, &fakePool{}, m)
					lc.Auth.Hostname = "LNS-HQ"
					cc := clientConfig("labuser", "")
					var asked []string
					cc.Auth.SecretFor = func(peer string) string {
						asked = append(asked, peer)
						return secrets[""]
					}
					lns, cli, _ := newPair(t, lc, cc)
					startBoth(lns, cli)
					synctest.Wait()
					_, up := cli.h.up(wire.ProtoIPCP)
					if want := secrets[""] == "labpass"; up != want {
						t.Fatalf("IPCP up = %v, want %v", up, want)
					}
					if len(asked) == 0 || asked[0] != "LNS-HQ" {
						t.Fatalf("SecretFor asked for %v, want the challenger's name LNS-HQ", asked)
					}
				})
			})
		}
	}
}
