package ppp

import (
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/aaa"
	wire "github.com/vpdn/vpdn/wire/ppp"
)

// replaceOnce drops the first frame from `from` that match says yes to,
// and delivers repl(frame) to the other side instead (nil: just drop).
func replaceOnce(w *link2, from string, match func(wire.Protocol, []byte) bool, repl func([]byte) []byte) {
	var once sync.Once
	w.setDrop(func(f string, frame []byte) bool {
		if f != from {
			return false
		}
		proto, payload, err := wire.ParseFrame(frame)
		if err != nil || !match(proto, payload) {
			return false
		}
		done := false
		once.Do(func() {
			done = true
			if repl == nil {
				return
			}
			dst := w.a
			if from == "A" {
				dst = w.b
			}
			out := repl(payload)
			f := wire.Framing{AddressControl: true}.Append(nil, proto)
			f = append(f, out...)
			dst.r.Post(func() { dst.l.Input(f) })
		})
		return done
	})
}

// TestEAPPeerNaks: a peer that Naks MD5-Challenge (wanting another EAP
// type) gets EAP Failure and the link closes.
func TestEAPPeerNaks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		users := &fakeAAA{users: map[string]string{"labuser": "labpass"}}
		lns, cli, w := newPair(t, lnsConfig(users, &fakePool{}, aaa.EAPMD5), clientConfig("labuser", "labpass"))
		replaceOnce(w, "B", func(p wire.Protocol, b []byte) bool {
			e, err := wire.ParseEAP(b)
			return p == wire.ProtoEAP && err == nil && e.Type == wire.EAPTypeMD5
		}, func(b []byte) []byte {
			return wire.AppendEAP(nil, wire.EAPResponse, b[1], wire.EAPTypeNak, []byte{13}) // wants EAP-TLS
		})
		startBoth(lns, cli)
		time.Sleep(time.Minute)
		synctest.Wait()
		if lns.sent.count(wire.ProtoEAP, wire.EAPFailure) != 1 {
			t.Fatal("no EAP Failure")
		}
		if r, ok := lns.h.linkDown(); !ok || r != "EAP: peer refused MD5-Challenge" {
			t.Fatalf("down %v %q", ok, r)
		}
		if r, ok := cli.h.linkDown(); !ok || r != "EAP authentication failed" {
			t.Fatalf("client down %v %q", ok, r)
		}
	})
}

// TestEAPClientSide: the peer side answers Notification, Naks types it
// does not know with MD5-Challenge, and answers Identity with its name.
func TestEAPClientSide(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		users := &fakeAAA{users: map[string]string{"labuser": "labpass"}}
		lns, cli, _ := bringUp(t, lnsConfig(users, &fakePool{}, aaa.EAPMD5), clientConfig("labuser", "labpass"))
		_ = lns
		ids := cli.sent.find(wire.ProtoEAP, wire.EAPResponse)
		if len(ids) != 2 || ids[0][0] != wire.EAPTypeIdentity || string(ids[0][1:]) != "labuser" || ids[1][0] != wire.EAPTypeMD5 {
			t.Fatalf("responses %q", ids)
		}
		req := func(id, typ uint8, data []byte) {
			b := append([]byte{typ}, data...)
			inject(cli, wire.ProtoEAP, wire.EAPRequest, id, b)
		}
		req(50, wire.EAPTypeNotification, []byte("hello"))
		req(51, 13, nil) // EAP-TLS
		got := cli.sent.find(wire.ProtoEAP, wire.EAPResponse)
		if len(got) != 4 || got[2][0] != wire.EAPTypeNotification || got[3][0] != wire.EAPTypeNak || string(got[3][1:]) != "\x04\x1a" {
			t.Fatalf("responses %q", got)
		}
	})
}

// TestChangePasswordRejected: MS-CHAP Change-Password is refused with a
// Failure and the link closes.
func TestChangePasswordRejected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		users := &fakeAAA{users: map[string]string{"labuser": "labpass"}}
		lns, cli, w := newPair(t, lnsConfig(users, &fakePool{}, aaa.MSCHAPv2), clientConfig("labuser", "labpass"))
		replaceOnce(w, "B", func(p wire.Protocol, b []byte) bool {
			return p == wire.ProtoCHAP && wire.Code(b[0]) == wire.CHAPResponse
		}, func(b []byte) []byte {
			return wire.AppendPacket(nil, wire.MSCHAPv2ChangePassword, b[1], make([]byte, 582))
		})
		startBoth(lns, cli)
		time.Sleep(time.Minute)
		synctest.Wait()
		f := lns.sent.find(wire.ProtoCHAP, wire.CHAPFailure)
		if len(f) != 1 || !strings.HasPrefix(string(f[0]), "E=709 R=0") {
			t.Fatalf("failure %q", f)
		}
		if r, ok := lns.h.linkDown(); !ok || r != "Password change requested and not supported" {
			t.Fatalf("down %v %q", ok, r)
		}
		if len(users.requests) != 0 {
			t.Fatal("AAA was asked about a password change")
		}
	})
}

// TestPAPAckLost: the client repeats its request; the LNS repeats the Ack
// without asking AAA again.
func TestPAPAckLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		users := &fakeAAA{users: map[string]string{"labuser": "labpass"}}
		lns, cli, w := newPair(t, lnsConfig(users, &fakePool{}, aaa.PAP), clientConfig("labuser", "labpass"))
		replaceOnce(w, "A", func(p wire.Protocol, b []byte) bool {
			return p == wire.ProtoPAP && wire.Code(b[0]) == wire.PAPAck
		}, nil)
		startBoth(lns, cli)
		time.Sleep(time.Minute)
		synctest.Wait()
		if _, ok := cli.h.up(wire.ProtoIPCP); !ok {
			t.Fatal("not up")
		}
		if n := cli.sent.count(wire.ProtoPAP, wire.PAPRequest); n != 2 {
			t.Fatalf("%d requests", n)
		}
		if n := lns.sent.count(wire.ProtoPAP, wire.PAPAck); n != 2 {
			t.Fatalf("%d acks", n)
		}
		if len(users.requests) != 1 {
			t.Fatalf("AAA asked %d times", len(users.requests))
		}
		if users.requests[0].NASPort != "" || users.requests[0].Username != "labuser" || string(users.requests[0].Password) != "labpass" {
			t.Fatalf("request %+v", users.requests[0])
		}
	})
}

// TestAuthTimeout: a peer that never answers the challenge is dropped.
func TestAuthTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		users := &fakeAAA{users: map[string]string{"labuser": "labpass"}}
		cc := clientConfig("labuser", "labpass")
		cc.Auth.Timeout = time.Hour // the LNS gives up first
		lns, cli, w := newPair(t, lnsConfig(users, &fakePool{}, aaa.CHAP), cc)
		w.setDrop(func(from string, f []byte) bool {
			p, _, _ := wire.ParseFrame(f)
			return from == "B" && p == wire.ProtoCHAP
		})
		startBoth(lns, cli)
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		r, ok := lns.h.linkDown()
		if !ok || (r != "CHAP: no response from the peer" && r != "Authentication timeout") {
			t.Fatalf("down %v %q", ok, r)
		}
		if n := lns.sent.count(wire.ProtoCHAP, wire.CHAPChallenge); n < 9 || n > 10 {
			t.Fatalf("%d challenges", n)
		}
	})
}
