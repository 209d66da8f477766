package ppp

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/wire/mppe"
	wire "github.com/vpdn/vpdn/wire/ppp"
	"layeh.com/radius/rfc3079"
)

// mppePair is an LNS authenticating the client with method, each end with
// its own `ppp encrypt mppe`.
func mppePair(t *testing.T, method aaa.Method, lm, cm MPPEConfig) (*endpoint, *endpoint, *link2) {
	t.Helper()
	users := &fakeAAA{users: map[string]string{"labuser": "labpass"}}
	lc, cc := lnsConfig(users, &fakePool{}, method), clientConfig("labuser", "labpass")
	lc.MPPE, cc.MPPE = lm, cm
	return bringUp(t, lc, cc)
}

// linkCause returns the reason and cause of the link's final Down event.
func (r *recorder) linkCause() (string, Cause, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.downs {
		if d.Protocol == wire.ProtoLCP {
			return d.Reason, d.Cause, true
		}
	}
	return "", CauseNone, false
}

func (r *recorder) resetCount() int { r.mu.Lock(); defer r.mu.Unlock(); return r.resets }

// TestMPPENegotiation runs pairs of `ppp encrypt mppe` settings over
// MS-CHAPv2: both ends converge on one strength and one mode.
func TestMPPENegotiation(t *testing.T) {
	for _, tc := range []struct {
		name         string
		lns, cli     MPPEConfig
		strength     mppe.Strength
		stateless    bool
		naksExpected bool
	}{
		{"auto-auto", MPPEConfig{Strengths: MPPEAuto}, MPPEConfig{Strengths: MPPEAuto}, mppe.Key128, true, true},
		{"auto-40", MPPEConfig{Strengths: MPPEAuto}, MPPEConfig{Strengths: mppe.Opt40}, mppe.Key40, true, true},
		{"128-auto", MPPEConfig{Strengths: mppe.Opt128}, MPPEConfig{Strengths: MPPEAuto}, mppe.Key128, true, true},
		{"56-all", MPPEConfig{Strengths: mppe.Opt56}, MPPEConfig{Strengths: MPPEAuto | mppe.Opt56}, mppe.Key56, true, true},
		{"128-128", MPPEConfig{Strengths: mppe.Opt128}, MPPEConfig{Strengths: mppe.Opt128}, mppe.Key128, true, false},
		{"stateful-stateless", MPPEConfig{Strengths: mppe.Opt128, Stateful: true}, MPPEConfig{Strengths: mppe.Opt128}, mppe.Key128, true, true},
		{"stateless-stateful", MPPEConfig{Strengths: mppe.Opt128}, MPPEConfig{Strengths: mppe.Opt128, Stateful: true}, mppe.Key128, true, true},
		{"stateful-stateful", MPPEConfig{Strengths: mppe.Opt128, Stateful: true}, MPPEConfig{Strengths: mppe.Opt128, Stateful: true}, mppe.Key128, false, false},
		{"passive-active", MPPEConfig{Strengths: MPPEAuto, Passive: true, Required: true}, MPPEConfig{Strengths: MPPEAuto}, mppe.Key128, true, true},
		{"required-both", MPPEConfig{Strengths: MPPEAuto, Required: true}, MPPEConfig{Strengths: MPPEAuto, Required: true}, mppe.Key128, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				lns, cli, _ := mppePair(t, aaa.MSCHAPv2, tc.lns, tc.cli)
				lup, ok1 := lns.h.up(wire.ProtoCCP)
				cup, ok2 := cli.h.up(wire.ProtoCCP)
				if !ok1 || !ok2 {
					r1, _ := lns.h.linkDown()
					r2, _ := cli.h.linkDown()
					t.Fatalf("CCP not up: lns %+v %q, client %+v %q", lns.info().CCP, r1, cli.info().CCP, r2)
				}
				for _, ev := range []UpEvent{lup, cup} {
					m := ev.Info.MPPE
					if m == nil || m.Strength != tc.strength || m.Stateless != tc.stateless || ev.Info.MPPEPending {
						t.Fatalf("MPPE %+v pending %v, want %v stateless %v", m, ev.Info.MPPEPending, tc.strength, tc.stateless)
					}
				}
				if _, ok := cli.h.up(wire.ProtoIPCP); !ok {
					t.Fatal("IPCP not up")
				}
				naks := lns.sent.count(wire.ProtoCCP, wire.ConfNak) + cli.sent.count(wire.ProtoCCP, wire.ConfNak)
				if (naks > 0) != tc.naksExpected {
					t.Fatalf("%d CCP Naks", naks)
				}
				if n := lns.sent.count(wire.ProtoCCP, wire.ConfRej) + cli.sent.count(wire.ProtoCCP, wire.ConfRej); n != 0 {
					t.Fatalf("%d CCP Rejects", n)
				}
			})
		})
	}
}

// TestMPPEKeys: the event's keys are the start keys of RFC 3079 §3.3 as
// layeh's independent rfc3079 derives them, crossed between the ends.
func TestMPPEKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var nt []byte
		users := &fakeAAA{users: map[string]string{"labuser": "labpass"}}
		lc, cc := lnsConfig(users, &fakePool{}, aaa.MSCHAPv2), clientConfig("labuser", "labpass")
		lc.MPPE, cc.MPPE = MPPEConfig{Strengths: MPPEAuto}, MPPEConfig{Strengths: MPPEAuto}
		lns, cli, _ := bringUp(t, lc, cc)
		lup, _ := lns.h.up(wire.ProtoCCP)
		cup, _ := cli.h.up(wire.ProtoCCP)
		if lup.Info.MPPE == nil || cup.Info.MPPE == nil {
			t.Fatal("MPPE not up")
		}
		users.mu.Lock()
		for _, r := range users.requests {
			if r.Method == aaa.MSCHAPv2 && len(r.Response) == 49 {
				nt = r.Response[24:48]
			}
		}
		users.mu.Unlock()
		send, _ := rfc3079.MakeKey(nt, []byte("labpass"), true)
		recv, _ := rfc3079.MakeKey(nt, []byte("labpass"), false)
		l, c := lup.Info.MPPE, cup.Info.MPPE
		if !bytes.Equal(l.SendKey, send) || !bytes.Equal(l.RecvKey, recv) {
			t.Fatalf("server keys %x %x, want %x %x", l.SendKey, l.RecvKey, send, recv)
		}
		if !bytes.Equal(c.SendKey, l.RecvKey) || !bytes.Equal(c.RecvKey, l.SendKey) {
			t.Fatalf("client keys %x %x not the server's crossed", c.SendKey, c.RecvKey)
		}
		// The keys work: what the client encrypts, the server decrypts.
		enc, err1 := mppe.NewEncrypter(c.SendKey, c.Strength, c.Stateless)
		dec, err2 := mppe.NewDecrypter(l.RecvKey, l.Strength, l.Stateless)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		pt := []byte{0x00, 0x21, 0x45, 0, 0, 20}
		got, err := dec.Decrypt(nil, enc.Encrypt(nil, pt))
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("decrypt %x %v", got, err)
		}
	})
}

// TestMPPENoCommonStrength: 40-bit only against 128-bit only. Without
// Required, CCP closes and the link carries plain IP; with Required on
// either end, that end terminates the link with CauseEncryption.
func TestMPPENoCommonStrength(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lns, cli, _ := mppePair(t, aaa.MSCHAPv2, MPPEConfig{Strengths: mppe.Opt40}, MPPEConfig{Strengths: mppe.Opt128})
		if _, down := lns.h.linkDown(); down {
			t.Fatal("link went down without Required")
		}
		if _, ok := lns.h.up(wire.ProtoCCP); ok {
			t.Fatal("CCP up without a common strength")
		}
		if _, ok := cli.h.up(wire.ProtoIPCP); !ok {
			t.Fatal("IPCP not up")
		}
		if in := lns.info(); in.CCP == Opened || in.MPPE != nil || in.MPPEPending {
			t.Fatalf("lns CCP %s MPPE %+v pending %v", in.CCP, in.MPPE, in.MPPEPending)
		}
		if lns.sent.count(wire.ProtoCCP, wire.ConfRej) == 0 {
			t.Fatal("option 18 not rejected")
		}
	})
	for _, who := range []string{"lns", "client"} {
		t.Run("required-"+who, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				lm, cm := MPPEConfig{Strengths: mppe.Opt40}, MPPEConfig{Strengths: mppe.Opt128}
				if who == "lns" {
					lm.Required = true
				} else {
					cm.Required = true
				}
				lns, cli, _ := mppePair(t, aaa.MSCHAPv2, lm, cm)
				e := lns
				if who == "client" {
					e = cli
				}
				r, c, ok := e.h.linkCause()
				if !ok || c != CauseEncryption || !strings.Contains(r, "MPPE required") {
					t.Fatalf("down %v %q %v", ok, r, c)
				}
				if _, ok := e.h.up(wire.ProtoCCP); ok {
					t.Fatal("CCP up")
				}
			})
		})
	}
}

// TestMPPEPeerRejects: a peer without MPPE (the zero configuration, which
// rejects every CCP option) refuses option 18.
func TestMPPEPeerRejects(t *testing.T) {
	for _, required := range []bool{false, true} {
		t.Run(map[bool]string{false: "optional", true: "required"}[required], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				lns, cli, _ := mppePair(t, aaa.MSCHAPv2, MPPEConfig{Strengths: MPPEAuto, Required: required}, MPPEConfig{})
				if cli.sent.count(wire.ProtoCCP, wire.ConfRej) == 0 {
					t.Fatalf("client sent %d Rejects, %d requests", cli.sent.count(wire.ProtoCCP, wire.ConfRej), cli.sent.count(wire.ProtoCCP, wire.ConfReq))
				}
				r, c, down := lns.h.linkCause()
				if required {
					if !down || c != CauseEncryption || r != "MPPE required: peer rejected MPPE" {
						t.Fatalf("down %v %q %v", down, r, c)
					}
					return
				}
				if down {
					t.Fatalf("link down: %q", r)
				}
				if in := lns.info(); in.CCP == Opened || in.MPPE != nil || in.IPCP != Opened {
					t.Fatalf("CCP %s MPPE %+v IPCP %s", in.CCP, in.MPPE, in.IPCP)
				}
			})
		})
	}
}

// TestMPPENeedsMSCHAP: PAP gives no keys. With Required the link is
// terminated before any NCP starts; without, MPPE is simply not offered.
func TestMPPENeedsMSCHAP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lns, _, _ := mppePair(t, aaa.PAP, MPPEConfig{Strengths: MPPEAuto, Required: true}, MPPEConfig{Strengths: MPPEAuto})
		r, c, ok := lns.h.linkCause()
		if !ok || c != CauseEncryption || r != "MPPE required but no MS-CHAP keys (authenticated with PAP)" {
			t.Fatalf("down %v %q %v", ok, r, c)
		}
		if n := lns.sent.count(wire.ProtoIPCP, wire.ConfReq); n != 0 {
			t.Fatalf("IPCP started (%d requests)", n)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		lns, cli, _ := mppePair(t, aaa.CHAP, MPPEConfig{Strengths: MPPEAuto}, MPPEConfig{Strengths: MPPEAuto})
		if lns.sent.count(wire.ProtoCCP, wire.ConfReq)+cli.sent.count(wire.ProtoCCP, wire.ConfReq) != 0 {
			t.Fatal("CCP started without keys")
		}
		if _, ok := cli.h.up(wire.ProtoIPCP); !ok {
			t.Fatal("IPCP not up")
		}
	})
}

// TestMPPEPassiveBoth: nobody starts CCP. Without Required the link stays
// up in plain; with Required IPCP opens (Info.MPPEPending), plain IP is
// dropped, and after MaxConfigure × Restart (30 s by default) the link is
// terminated.
func TestMPPEPassiveBoth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lns, cli, _ := mppePair(t, aaa.MSCHAPv2, MPPEConfig{Strengths: MPPEAuto, Passive: true}, MPPEConfig{Strengths: MPPEAuto, Passive: true})
		time.Sleep(time.Minute)
		synctest.Wait()
		if lns.sent.count(wire.ProtoCCP, wire.ConfReq)+cli.sent.count(wire.ProtoCCP, wire.ConfReq) != 0 {
			t.Fatal("a passive end started CCP")
		}
		if _, down := lns.h.linkDown(); down {
			t.Fatal("link down")
		}
	})
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		lns, _, _ := mppePair(t, aaa.MSCHAPv2, MPPEConfig{Strengths: MPPEAuto, Passive: true, Required: true}, MPPEConfig{Strengths: MPPEAuto, Passive: true})
		up, ok := lns.h.up(wire.ProtoIPCP)
		if !ok || !up.Info.MPPEPending {
			t.Fatalf("IPCP up %v, pending %v", ok, up.Info.MPPEPending)
		}
		ip := wire.Framing{AddressControl: true}.Append(nil, wire.ProtoIPv4)
		ip = append(ip, 0x45, 0, 0, 20)
		lns.r.Post(func() { lns.l.Input(ip) })
		var sendErr error
		lns.r.Do(func() {
			buf := make([]byte, wire.MaxHeaderLen+20)
			sendErr = lns.l.SendPacket(wire.ProtoIPv4, buf, wire.MaxHeaderLen)
		})
		if st := lns.stats(); st.DropUnencrypted != 1 || st.InPackets != 0 || !errors.Is(sendErr, ErrEncryptionRequired) {
			t.Fatalf("stats %+v, send %v", st, sendErr)
		}
		time.Sleep(29 * time.Second)
		synctest.Wait()
		if _, down := lns.h.linkDown(); down {
			t.Fatal("down before the guard")
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		r, c, down := lns.h.linkCause()
		if !down || c != CauseEncryption || r != "MPPE required but CCP did not open in time" {
			t.Fatalf("down %v %q %v after %v", down, r, c, time.Since(start))
		}
	})
}

func (e *endpoint) stats() Stats {
	var s Stats
	e.r.Do(func() { s = e.l.Stats() })
	return s
}

// TestMPPEData: once MPPE is open, plain IP is dropped and counted both
// ways, MPPE packets (protocol 0x00FD) reach the Handler, and SendPacket
// takes them.
func TestMPPEData(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lns, cli, _ := mppePair(t, aaa.MSCHAPv2, MPPEConfig{Strengths: MPPEAuto}, MPPEConfig{Strengths: MPPEAuto})
		if _, ok := lns.h.up(wire.ProtoCCP); !ok {
			t.Fatal("CCP not up")
		}
		fr := wire.Framing{AddressControl: true}
		ip := append(fr.Append(nil, wire.ProtoIPv4), 0x45, 0, 0, 20)
		enc := append(fr.Append(nil, wire.ProtoCompressed), 0x90, 0x01, 0xAA, 0xBB)
		lns.r.Post(func() { lns.l.Input(ip); lns.l.Input(enc) })
		var plainErr, encErr error
		cli.r.Do(func() {
			buf := make([]byte, wire.MaxHeaderLen+4)
			plainErr = cli.l.SendPacket(wire.ProtoIPv4, buf, wire.MaxHeaderLen)
			encErr = cli.l.SendPacket(wire.ProtoCompressed, buf, wire.MaxHeaderLen)
		})
		synctest.Wait()
		if !errors.Is(plainErr, ErrEncryptionRequired) || encErr != nil {
			t.Fatalf("send plain %v, encrypted %v", plainErr, encErr)
		}
		st := lns.stats()
		if st.DropUnencrypted != 1 || st.InPackets != 2 {
			t.Fatalf("stats %+v", st)
		}
		lns.h.mu.Lock()
		defer lns.h.mu.Unlock()
		if len(lns.h.packets) != 2 || !bytes.Equal(lns.h.packets[0], []byte{0x00, 0xFD, 0x90, 0x01, 0xAA, 0xBB}) {
			t.Fatalf("packets %x", lns.h.packets)
		}
	})
}

// TestMPPEReset: Reset-Request is answered with Reset-Ack of the same
// Identifier and reaches the ResetHandler; one request is outstanding at a
// time, repeated after Restart only when asked for again.
func TestMPPEReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lns, cli, w := mppePair(t, aaa.MSCHAPv2, MPPEConfig{Strengths: MPPEAuto, Stateful: true}, MPPEConfig{Strengths: MPPEAuto, Stateful: true})
		if _, ok := lns.h.up(wire.ProtoCCP); !ok {
			t.Fatal("CCP not up")
		}
		cli.r.Do(cli.l.SendResetRequest)
		synctest.Wait()
		reqs, acks := cli.sent.find(wire.ProtoCCP, wire.ResetReq), lns.sent.find(wire.ProtoCCP, wire.ResetAck)
		if len(reqs) != 1 || len(acks) != 1 || lns.h.resetCount() != 1 {
			t.Fatalf("%d requests, %d acks, %d resets", len(reqs), len(acks), lns.h.resetCount())
		}
		ids := func(e *endpoint, c wire.Code) []uint8 {
			e.sent.mu.Lock()
			defer e.sent.mu.Unlock()
			var out []uint8
			for _, f := range e.sent.frames {
				p, pl, err := wire.ParseFrame(f)
				if err == nil && p == wire.ProtoCCP && len(pl) >= 4 && wire.Code(pl[0]) == c {
					out = append(out, pl[1])
				}
			}
			return out
		}
		if r, a := ids(cli, wire.ResetReq), ids(lns, wire.ResetAck); r[0] != a[0] {
			t.Fatalf("Reset-Ack id %d for request %d", a[0], r[0])
		}
		// Lose the Reset-Acks: a second and third ask while the first is
		// outstanding send nothing; after Restart one more goes out, with
		// a new Identifier; then nothing more when nobody asks.
		w.setDrop(func(from string, f []byte) bool {
			p, pl, _ := wire.ParseFrame(f)
			return p == wire.ProtoCCP && len(pl) > 0 && wire.Code(pl[0]) == wire.ResetAck
		})
		cli.r.Do(cli.l.SendResetRequest)
		cli.r.Do(cli.l.SendResetRequest)
		cli.r.Do(cli.l.SendResetRequest)
		synctest.Wait()
		if n := cli.sent.count(wire.ProtoCCP, wire.ResetReq); n != 2 {
			t.Fatalf("%d Reset-Requests, want 2", n)
		}
		time.Sleep(3*time.Second + time.Millisecond)
		synctest.Wait()
		r := ids(cli, wire.ResetReq)
		if len(r) != 3 || r[2] == r[1] {
			t.Fatalf("Reset-Request ids %v", r)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if n := cli.sent.count(wire.ProtoCCP, wire.ResetReq); n != 3 || lns.h.resetCount() != 3 {
			t.Fatalf("%d Reset-Requests, %d resets", n, lns.h.resetCount())
		}
		// Without MPPE open, a Reset-Request is ignored, not code-rejected.
		if lns.sent.count(wire.ProtoCCP, wire.CodeRej)+cli.sent.count(wire.ProtoCCP, wire.CodeRej) != 0 {
			t.Fatal("Code-Reject")
		}
	})
}

// TestMPPEDebugLines pins the CCP lines of `debug ppp negotiation`.
func TestMPPEDebugLines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf syncBuffer
		users := &fakeAAA{users: map[string]string{"labuser": "labpass"}}
		lc, cc := lnsConfig(users, &fakePool{}, aaa.MSCHAPv2), clientConfig("labuser", "labpass")
		lc.MPPE, cc.MPPE = MPPEConfig{Strengths: MPPEAuto}, MPPEConfig{Strengths: MPPEAuto}
		lc.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		bringUp(t, lc, cc)
		out := buf.String()
		for _, want := range []string{
			`msg="A CCP: O CONFREQ [Closed] id 1 len 10"`,
			`msg="A CCP:    MS-PPC supported bits 0x01000060 (0x120601000060)"`,
			`msg="A CCP:    MPPE 40 bit, 128 bit, stateless"`,
			`msg="A CCP: O CONFNAK [REQsent] id 1 len 10"`,
			`msg="A CCP:    MPPE 128 bit, stateless"`,
			`msg="A CCP: State is Open"`,
			`msg="A CCP: MPPE 128 bit, stateless"`,
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

// TestMPPEConfigErrors: bad `ppp encrypt mppe` settings fail NewLink.
func TestMPPEConfigErrors(t *testing.T) {
	for _, m := range []MPPEConfig{
		{Strengths: mppe.OptMPPC},
		{Strengths: mppe.Opt128 | mppe.OptStateless},
		{Required: true},
		{Passive: true},
		{Stateful: true},
	} {
		_, err := NewLink(Config{Post: func(func()) {}, Output: OutputFunc(func([]byte) error { return nil }), MPPE: m})
		if err == nil || !strings.HasPrefix(err.Error(), "ppp: MPPE") {
			t.Errorf("%+v: %v", m, err)
		}
	}
}

// TestMPPEJudge checks the verdicts on peer requests directly.
func TestMPPEJudge(t *testing.T) {
	opt := func(o mppe.Options) []byte { return o.AppendOption(nil) }
	for _, tc := range []struct {
		name      string
		cfg       MPPEConfig
		req       []byte
		nak, rej  []byte
		ackedPeer bool
	}{
		{"exact", MPPEConfig{Strengths: MPPEAuto}, opt(mppe.Opt128 | mppe.OptStateless), nil, nil, true},
		{"two strengths", MPPEConfig{Strengths: MPPEAuto}, opt(mppe.Opt40 | mppe.Opt128 | mppe.OptStateless), opt(mppe.Opt128 | mppe.OptStateless), nil, false},
		{"stateful asked, stateless wanted", MPPEConfig{Strengths: MPPEAuto}, opt(mppe.Opt128), opt(mppe.Opt128 | mppe.OptStateless), nil, false},
		{"stateless asked, stateful offered", MPPEConfig{Strengths: MPPEAuto, Stateful: true}, opt(mppe.Opt40 | mppe.OptStateless), nil, nil, true},
		{"MPPC bit", MPPEConfig{Strengths: MPPEAuto}, opt(mppe.OptMPPC | mppe.Opt128 | mppe.OptStateless), opt(mppe.Opt128 | mppe.OptStateless), nil, false},
		{"D bit", MPPEConfig{Strengths: mppe.Opt40}, opt(mppe.OptObsolete | mppe.Opt40 | mppe.OptStateless), opt(mppe.Opt40 | mppe.OptStateless), nil, false},
		{"MPPC only", MPPEConfig{Strengths: mppe.Opt128}, opt(mppe.OptMPPC), opt(mppe.Opt128 | mppe.OptStateless), nil, false},
		{"no common", MPPEConfig{Strengths: mppe.Opt128}, opt(mppe.Opt40), nil, opt(mppe.Opt40), false},
		{"short option", MPPEConfig{Strengths: mppe.Opt128}, []byte{18, 4, 0, 0}, opt(mppe.Opt128 | mppe.OptStateless), []byte{18, 4, 0, 0}, false},
		{"other option", MPPEConfig{Strengths: mppe.Opt128}, append([]byte{17, 6, 0, 0, 0, 0}, opt(mppe.Opt128|mppe.OptStateless)...), nil, []byte{17, 6, 0, 0, 0, 0}, true},
		{"solicit", MPPEConfig{Strengths: MPPEAuto}, nil, opt(mppe.Opt128 | mppe.OptStateless), nil, false},
		{"not configured", MPPEConfig{}, opt(mppe.Opt128 | mppe.OptStateless), nil, opt(mppe.Opt128 | mppe.OptStateless), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := NewLink(Config{Post: func(func()) {}, Output: OutputFunc(func([]byte) error { return nil }), MPPE: tc.cfg})
			if err != nil {
				t.Fatal(err)
			}
			o := l.ccpo
			o.want = tc.cfg.enabled()
			o.resetOptions()
			var j judgement
			o.judge(tc.req, &j)
			if !bytes.Equal(j.nak, tc.nak) || !bytes.Equal(j.rej, tc.rej) || o.peerOK != tc.ackedPeer {
				t.Fatalf("nak %x rej %x acked %v; want %x %x %v", j.nak, j.rej, o.peerOK, tc.nak, tc.rej, tc.ackedPeer)
			}
		})
	}
}

// TestMPPEDataPathZeroAlloc: with MPPE open, Input of an MPPE packet, the
// drop of a plain one and SendPacket of an MPPE packet do not allocate.
func TestMPPEDataPathZeroAlloc(t *testing.T) {
	self := newFuzzHarness(t, serverFuzzConfig(aaa.MSCHAPv2), serverSeed)
	peer := newFuzzHarness(t, clientFuzzConfig(), clientSeed)
	self.l.Start()
	peer.l.Start()
	for range 200 {
		self.settle()
		peer.settle()
		so, po := self.out, peer.out
		self.out, peer.out = nil, nil
		if len(so) == 0 && len(po) == 0 {
			break
		}
		for _, f := range so {
			peer.l.Input(f)
		}
		for _, f := range po {
			self.l.Input(f)
		}
	}
	l := self.l
	if in := l.Info(); in.MPPE == nil {
		t.Fatalf("MPPE not open: CCP %s", in.CCP)
	}
	l.cfg.Output = OutputFunc(func([]byte) error { return nil })
	enc := []byte{0xff, 0x03, 0x00, 0xfd, 0x90, 0x01, 0xaa, 0xbb}
	plain := []byte{0xff, 0x03, 0x00, 0x21, 0x45, 0, 0, 20}
	buf := make([]byte, wire.MaxHeaderLen+64)
	if n := testing.AllocsPerRun(100, func() {
		l.Input(enc)
		l.Input(plain)
		if err := l.SendPacket(wire.ProtoCompressed, buf, wire.MaxHeaderLen); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("%v allocations per packet", n)
	}
	if st := l.Stats(); st.DropUnencrypted < 100 {
		t.Fatalf("stats %+v", st)
	}
}

// TestMPPEDebugSwitch: CCP's lines name both `debug ppp negotiation` and
// `debug ppp mppe`, LCP's only the first; a resynchronisation (RFC 3078
// §8) is logged on both ends under `debug ppp mppe` alone.
func TestMPPEDebugSwitch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var lbuf, cbuf syncBuffer
		users := &fakeAAA{users: map[string]string{"labuser": "labpass"}}
		lc, cc := lnsConfig(users, &fakePool{}, aaa.MSCHAPv2), clientConfig("labuser", "labpass")
		lc.MPPE = MPPEConfig{Strengths: MPPEAuto, Stateful: true}
		cc.MPPE = lc.MPPE
		lc.Logger = slog.New(slog.NewTextHandler(&lbuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		cc.Logger = slog.New(slog.NewTextHandler(&cbuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		_, cli, _ := bringUp(t, lc, cc)
		cli.r.Do(cli.l.SendResetRequest)
		synctest.Wait()
		lout, cout := lbuf.String(), cbuf.String()
		for _, c := range []struct{ out, want string }{
			{lout, `msg="A CCP: O CONFREQ [Closed] id 1 len 10" debug="ppp negotiation,ppp mppe"`},
			{lout, `msg="A CCP: MPPE 128 bit, stateful" debug="ppp negotiation,ppp mppe"`},
			{lout, `msg="A LCP: O CONFREQ [Closed] id 1 len 15" debug="ppp negotiation"`},
			{lout, `msg="A CCP: State is Open" debug="ppp negotiation,ppp mppe"`},
			{cout, `msg="B MPPE: packets lost on a stateful link: Reset-Request id 3 (RFC 3078 §8)" debug="ppp mppe"`},
			{lout, `msg="A MPPE: Reset-Request id 3 from the peer: our sender flushes (RFC 3078 §8)" debug="ppp mppe"`},
			{cout, `msg="B MPPE: Reset-Ack id 3: resynchronised" debug="ppp mppe"`},
		} {
			if !strings.Contains(c.out, c.want) {
				t.Errorf("missing %s", c.want)
			}
		}
		if t.Failed() {
			t.Logf("LNS:\n%s\nclient:\n%s", lout, cout)
		}
	})
}

// TestMPPEFallBackToStateless: the flow alarm's fallback renegotiates CCP
// from Opened with the H bit; a peer configured stateful goes along (our
// Nak of its stateful request); both ends reopen stateless, IPCP stays up,
// the CCP Down events say the renegotiation holds IP, and it happens once.
func TestMPPEFallBackToStateless(t *testing.T) {
	for _, initiator := range []string{"client", "lns"} {
		t.Run(initiator, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				stateful := MPPEConfig{Strengths: MPPEAuto, Stateful: true}
				lns, cli, _ := mppePair(t, aaa.MSCHAPv2, stateful, stateful)
				for _, e := range []*endpoint{lns, cli} {
					if up, ok := e.h.up(wire.ProtoCCP); !ok || up.Info.MPPE.Stateless {
						t.Fatalf("%s: not stateful before the alarm: %+v", e, up.Info.MPPE)
					}
				}
				first, other := cli, lns
				if initiator == "lns" {
					first, other = lns, cli
				}
				var did bool
				first.r.Do(func() { did = first.l.FallBackToStateless("flow alarm") })
				synctest.Wait()
				if !did {
					t.Fatal("no fallback")
				}
				for _, e := range []*endpoint{lns, cli} {
					up, ok := e.h.up(wire.ProtoCCP)
					if !ok || up.Info.MPPE == nil || !up.Info.MPPE.Stateless || up.Info.MPPE.Strength != mppe.Key128 {
						t.Fatalf("%s: after the fallback: %+v", e, up.Info.MPPE)
					}
					e.h.mu.Lock()
					var ccpDowns, ipcpDowns int
					for _, d := range e.h.downs {
						switch d.Protocol {
						case wire.ProtoCCP:
							ccpDowns++
							if !d.Renegotiating {
								t.Errorf("%s: CCP down without Renegotiating: %+v", e, d)
							}
						case wire.ProtoIPCP:
							ipcpDowns++
						}
					}
					e.h.mu.Unlock()
					if ccpDowns != 1 || ipcpDowns != 0 {
						t.Fatalf("%s: %d CCP downs, %d IPCP downs", e, ccpDowns, ipcpDowns)
					}
					if in := e.info(); in.CCP != Opened || in.IPCP != Opened {
						t.Fatalf("%s: CCP %v IPCP %v", e, in.CCP, in.IPCP)
					}
				}
				// At most once, and never with stateless MPPE: on either end.
				for _, e := range []*endpoint{first, other} {
					e.r.Do(func() { did = e.l.FallBackToStateless("flow alarm") })
					if did {
						t.Fatalf("%s: a second fallback", e)
					}
				}
				// A stateful request from the peer now is Nak'd to stateless.
				if n := first.sent.count(wire.ProtoCCP, wire.ConfNak); n == 0 {
					t.Fatal("the initiator never Nak'd the stateful request")
				}
			})
		})
	}
}

// TestMPPEFallBackNoMPPE: without MPPE open, or with stateless MPPE, the
// fallback does nothing.
func TestMPPEFallBackNoMPPE(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lns, cli, _ := mppePair(t, aaa.MSCHAPv2, MPPEConfig{Strengths: MPPEAuto}, MPPEConfig{Strengths: MPPEAuto})
		var did bool
		cli.r.Do(func() { did = cli.l.FallBackToStateless("flow alarm") })
		if did {
			t.Fatal("fallback on stateless MPPE")
		}
		lns2, cli2, _ := mppePair(t, aaa.MSCHAPv2, MPPEConfig{}, MPPEConfig{})
		cli2.r.Do(func() { did = cli2.l.FallBackToStateless("flow alarm") })
		if did {
			t.Fatal("fallback without MPPE")
		}
		_, _ = lns, lns2
	})
}
