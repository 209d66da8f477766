package ike

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/wire/isakmp"
)

// TestQuickModeGCM: esp-gcm 128 and 256 (RFC 4106): no authenticator
// attribute, a key length, and KEYMAT with the 4-octet salt after the key
// (§8.1); an offer of GCM with an HMAC is not acceptable.
func TestQuickModeGCM(t *testing.T) {
	for _, kb := range []int{128, 256} {
		synctest.Test(t, func(t *testing.T) {
			w := newNetwork(7, 0, 0)
			gcm := TransformSet{Name: "GCM", ESP: isakmp.ESPAESGCM16, KeyBits: kb}
			a, b := pair(t, w, func(i int, c *Config) {
				c.Phase2 = func(_ netip.AddrPort, _ string, l, r Selector) *Phase2Policy {
					p := p2For(gcm)
					p.Local, p.Remote = l, r
					return p
				}
			})
			if err := a.n.Initiate(addrB, p2For(gcm)); err != nil {
				t.Fatal(err)
			}
			settle(time.Second)
			ca, cb := a.n.Children(), b.n.Children()
			if len(ca) != 1 || len(cb) != 1 {
				t.Fatalf("children %d/%d\n%s\n%s", len(ca), len(cb), a.log, b.log)
			}
			x := ca[0]
			if x.Transform != isakmp.ESPAESGCM16 || x.Auth != 0 || len(x.EncKeyIn) != kb/8+4 || len(x.AuthKeyIn) != 0 || string(x.EncKeyOut) != string(cb[0].EncKeyIn) {
				t.Fatalf("GCM child: transform %d auth %d key %d octets", x.Transform, x.Auth, len(x.EncKeyIn))
			}
		})
	}
	if acceptableP2(p2offer{tid: isakmp.ESPAESGCM16, keyBits: 128, auth: isakmp.AuthAlgHMACSHA1}) {
		t.Error("GCM with an HMAC accepted")
	}
	if acceptableP2(p2offer{tid: isakmp.ESPAES, keyBits: 128}) {
		t.Error("AES-CBC without an HMAC accepted")
	}
}
