package ppp

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"layeh.com/radius/rfc2759"
	"layeh.com/radius/rfc3079"

	"github.com/vpdn/vpdn/aaa"
	wire "github.com/vpdn/vpdn/wire/ppp"
)

// eapServer is a test EAP server behind the AAA interface, as a RADIUS
// server is behind EAP pass-through: it speaks EAP-MD5 or EAP-MSCHAPv2
// (through layeh's independent rfc2759/rfc3079) from the peer's Identity
// on, keyed by State.
type eapServer struct {
	mu      sync.Mutex
	method  uint8 // wire.EAPTypeMD5 or wire.EAPTypeMSCHAPv2
	users   map[string]string
	chal    []byte
	nt      []byte
	reqs    []aaa.Request
	endless bool // challenge forever, with Notifications
	// offerMD5 starts with MD5-Challenge whatever method is, as
	// FreeRADIUS's default_eap_type does, and moves on a Nak.
	offerMD5 bool
}

func (e *eapServer) RelaysEAP() bool { return true }

func (e *eapServer) Authenticate(ctx context.Context, r *aaa.Request) (*aaa.Result, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.reqs = append(e.reqs, *r)
	p, err := wire.ParseEAP(r.EAPMessage)
	if err != nil || p.Code != wire.EAPResponse {
		return nil, fmt.Errorf("eapServer: bad EAP-Message %x", r.EAPMessage)
	}
	next := p.ID + 1
	challenge := func(typ uint8, data []byte, state string) (*aaa.Result, error) {
		return &aaa.Result{Challenge: true, EAPMessage: wire.AppendEAP(nil, wire.EAPRequest, next, typ, data), State: []byte(state), Server: "srv-" + state}, nil
	}
	reject := &aaa.Result{Reason: "bad password", EAPMessage: wire.AppendEAP(nil, wire.EAPFailure, p.ID, 0, nil)}
	pw := e.users[r.Username]
	switch {
	case e.endless:
		return challenge(wire.EAPTypeNotification, []byte("more"), "again")
	case p.Type == wire.EAPTypeNak && string(r.State) == "md5" && bytes.Equal(p.Data, []byte{e.method}):
		return challenge(wire.EAPTypeMSCHAPv2, wire.AppendEAPMSCHAPv2(nil, wire.EAPMSCHAPv2{OpCode: wire.EAPMSCHAPv2Challenge, ID: 9, Value: e.chal, Name: []byte("srv")}), "ms1")
	case p.Type == wire.EAPTypeIdentity && r.State == nil:
		e.chal = bytes.Repeat([]byte{0x5a}, 16)
		if e.method == wire.EAPTypeMD5 || e.offerMD5 {
			return challenge(wire.EAPTypeMD5, wire.AppendCHAPValue(nil, e.chal, []byte("srv")), "md5")
		}
		return challenge(wire.EAPTypeMSCHAPv2, wire.AppendEAPMSCHAPv2(nil, wire.EAPMSCHAPv2{OpCode: wire.EAPMSCHAPv2Challenge, ID: 9, Value: e.chal, Name: []byte("srv")}), "ms1")
	case p.Type == wire.EAPTypeMD5 && string(r.State) == "md5":
		v, _, _ := wire.ParseCHAPValue(p.Data)
		want := chapMD5Response(p.ID, pw, e.chal)
		if !bytes.Equal(v, want) {
			return reject, nil
		}
		return &aaa.Result{Accept: true, EAPMessage: wire.AppendEAP(nil, wire.EAPSuccess, p.ID, 0, nil), Authz: aaa.Authorization{Username: r.Username}}, nil
	case p.Type == wire.EAPTypeMSCHAPv2 && string(r.State) == "ms1":
		m, err := wire.ParseEAPMSCHAPv2(p.Data)
		if err != nil || m.OpCode != wire.EAPMSCHAPv2Response || len(m.Value) != 49 {
			return reject, nil
		}
		peer, nt := m.Value[:16], m.Value[24:48]
		want, _ := rfc2759.GenerateNTResponse(e.chal, peer, m.Name, []byte(pw))
		if !bytes.Equal(nt, want) {
			return challenge(wire.EAPTypeMSCHAPv2, wire.AppendEAPMSCHAPv2(nil, wire.EAPMSCHAPv2{OpCode: wire.EAPMSCHAPv2Failure, ID: 9, Message: []byte("E=691 R=0 V=3")}), "msf")
		}
		e.nt = bytes.Clone(nt)
		s, _ := rfc2759.GenerateAuthenticatorResponse(e.chal, peer, nt, m.Name, []byte(pw))
		return challenge(wire.EAPTypeMSCHAPv2, wire.AppendEAPMSCHAPv2(nil, wire.EAPMSCHAPv2{OpCode: wire.EAPMSCHAPv2Success, ID: 9, Message: []byte(s + " M=ok")}), "ms2")
	case p.Type == wire.EAPTypeMSCHAPv2 && string(r.State) == "ms2" && bytes.Equal(p.Data, []byte{wire.EAPMSCHAPv2Success}):
		send, _ := rfc3079.MakeKey(e.nt, []byte(pw), true)
		recv, _ := rfc3079.MakeKey(e.nt, []byte(pw), false)
		return &aaa.Result{Accept: true, EAPMessage: wire.AppendEAP(nil, wire.EAPSuccess, p.ID, 0, nil), MPPESendKey: send, MPPERecvKey: recv,
			Authz: aaa.Authorization{Username: r.Username}}, nil
	}
	return reject, nil
}

func relayConfig(e *eapServer) Config {
	c := lnsConfig(nil, &fakePool{}, aaa.EAPMD5)
	c.Auth.AAA = e
	return c
}

// TestEAPRelayMD5: EAP-MD5 passes through to the server: this end sends
// the Identity Request, then relays the server's MD5-Challenge and the
// peer's answer, and the server's Success brings the link up.
func TestEAPRelayMD5(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &eapServer{method: wire.EAPTypeMD5, users: map[string]string{"labuser": "labpass"}}
		lns, cli, _ := bringUp(t, relayConfig(srv), clientConfig("labuser", "labpass"))
		if _, ok := lns.h.up(wire.ProtoIPCP); !ok {
			t.Fatal("LNS IPCP not up")
		}
		if _, ok := cli.h.up(wire.ProtoIPCP); !ok {
			t.Fatal("client IPCP not up")
		}
		srv.mu.Lock()
		defer srv.mu.Unlock()
		if len(srv.reqs) != 2 || srv.reqs[0].State != nil || string(srv.reqs[1].State) != "md5" || srv.reqs[1].Server != "srv-md5" || srv.reqs[1].Username != "labuser" {
			t.Fatalf("requests %+v", srv.reqs)
		}
	})
}

// TestEAPRelayMSCHAPv2: EAP-MSCHAPv2 through the relay, the client side
// of this package against an independent server that offers MD5 first:
// the client, which requires MPPE, Naks it for EAP-MSCHAPv2; four round
// trips; the server's keys reach MPPE and are the client's crossed.
func TestEAPRelayMSCHAPv2(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &eapServer{method: wire.EAPTypeMSCHAPv2, offerMD5: true, users: map[string]string{"labuser": "labpass"}}
		lc, cc := relayConfig(srv), clientConfig("labuser", "labpass")
		lc.MPPE, cc.MPPE = MPPEConfig{Strengths: MPPEAuto}, MPPEConfig{Strengths: MPPEAuto, Required: true}
		lns, cli, _ := bringUp(t, lc, cc)
		lup, ok1 := lns.h.up(wire.ProtoCCP)
		cup, ok2 := cli.h.up(wire.ProtoCCP)
		if !ok1 || !ok2 || lup.Info.MPPE == nil || cup.Info.MPPE == nil {
			t.Fatal("MPPE not up")
		}
		l, c := lup.Info.MPPE, cup.Info.MPPE
		if !bytes.Equal(c.SendKey, l.RecvKey) || !bytes.Equal(c.RecvKey, l.SendKey) || len(l.SendKey) == 0 {
			t.Fatalf("keys: client %x %x, server %x %x", c.SendKey, c.RecvKey, l.SendKey, l.RecvKey)
		}
		srv.mu.Lock()
		defer srv.mu.Unlock()
		if len(srv.reqs) != 4 {
			t.Fatalf("%d requests", len(srv.reqs))
		}
	})
}

// TestEAPRelayReject: a wrong password ends with the server's EAP
// Failure relayed and the link closed.
func TestEAPRelayReject(t *testing.T) {
	for _, m := range []uint8{wire.EAPTypeMD5, wire.EAPTypeMSCHAPv2} {
		t.Run(fmt.Sprint(m), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := &eapServer{method: m, users: map[string]string{"labuser": "other"}}
				lns, cli, _ := bringUp(t, relayConfig(srv), clientConfig("labuser", "labpass"))
				time.Sleep(time.Minute)
				synctest.Wait()
				if lns.sent.count(wire.ProtoEAP, wire.EAPFailure) != 1 {
					t.Fatal("no EAP Failure")
				}
				if r, ok := cli.h.linkDown(); !ok || r != "EAP authentication failed" {
					t.Fatalf("client down %v %q", ok, r)
				}
			})
		})
	}
}

// TestEAPRelayBounded: a server that challenges forever is cut off after
// maxEAPRounds round trips, with EAP Failure to the peer.
func TestEAPRelayBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &eapServer{endless: true}
		lns, _, _ := bringUp(t, relayConfig(srv), clientConfig("labuser", "labpass"))
		time.Sleep(time.Minute)
		synctest.Wait()
		if r, ok := lns.h.linkDown(); !ok || r == "" {
			t.Fatalf("down %v %q", ok, r)
		}
		srv.mu.Lock()
		defer srv.mu.Unlock()
		if len(srv.reqs) != maxEAPRounds {
			t.Fatalf("%d requests, want %d", len(srv.reqs), maxEAPRounds)
		}
		if lns.sent.count(wire.ProtoEAP, wire.EAPFailure) != 1 {
			t.Fatal("no EAP Failure")
		}
	})
}
