package l2tp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// TestV3DigestKnownAnswer checks SealV3 against values computed by hand
// from RFC 3931 §5.4.1's definition with an independent HMAC
// implementation (Python's hmac module): shared_key = HMAC-MD5("cisco",
// 0x02), then HMAC(shared_key, local_nonce + remote_nonce + message)
// over a HELLO over UDP whose Message Digest octets are zero.
func TestV3DigestKnownAnswer(t *testing.T) {
	key := V3SharedKey([]byte("cisco"))
	if got := hex.EncodeToString(key); got != "95ecd669b34ee5c128914627ae255057" {
		t.Fatalf("shared_key = %s", got)
	}
	local, remote := bytes.Repeat([]byte{0x11}, 16), bytes.Repeat([]byte{0x22}, 16)
	for _, tc := range []struct {
		typ  uint8
		want string
	}{
		{DigestHMACMD5, "351a67971163946a3cc13aa71b136140"},
		{DigestHMACSHA1, "9015187d00ccc945043b6a977bc22cccd69569df"},
	} {
		m := V3Message{Type: MsgHELLO, Digests: []MessageDigest{{Type: tc.typ, Digest: make([]byte, DigestLen(tc.typ))}}}
		m.Set(AVPMessageDigest)
		b, err := m.AppendAVPs(AppendV3ControlHeader(nil, true, 0x01020304, 5, 7))
		if err != nil {
			t.Fatal(err)
		}
		if err := FinishV3Control(b, true); err != nil {
			t.Fatal(err)
		}
		if err := SealV3(b, true, key, local, remote); err != nil {
			t.Fatal(err)
		}
		off := V3ControlHeaderLen + 8 + AVPHeaderLen + 1
		if got := hex.EncodeToString(b[off : off+DigestLen(tc.typ)]); got != tc.want {
			t.Errorf("type %d: digest %s, want %s", tc.typ, got, tc.want)
		}
		// The receiver checks with the nonces reversed (§5.4.1).
		if err := VerifyV3(b, true, key, local, remote); err != nil {
			t.Errorf("type %d: verify: %v", tc.typ, err)
		}
		if err := VerifyV3(b, true, key, remote, local); !errors.Is(err, ErrDigest) {
			t.Errorf("type %d: swapped nonces verified: %v", tc.typ, err)
		}
		b[len(b)-1] ^= 1
		if err := VerifyV3(b, true, key, local, remote); !errors.Is(err, ErrDigest) {
			t.Errorf("type %d: altered message verified: %v", tc.typ, err)
		}
	}
}

// TestV3DigestOverIP: over IP the digest starts after the zero Session ID,
// so the same message sealed over IP and over UDP has the same digest.
func TestV3DigestOverIP(t *testing.T) {
	key := V3SharedKey([]byte("s"))
	enc := func(udp bool) []byte {
		m := V3Message{Type: MsgSCCCN, Digests: []MessageDigest{{Type: DigestHMACMD5, Digest: make([]byte, 16)}}}
		m.Set(AVPMessageDigest)
		b, _ := m.AppendAVPs(AppendV3ControlHeader(nil, udp, 9, 1, 1))
		_ = FinishV3Control(b, udp)
		if err := SealV3(b, udp, key, []byte("n1")); err != nil {
			t.Fatal(err)
		}
		return b
	}
	ip, udp := enc(false), enc(true)
	if !bytes.Equal(ip[V3IPControlPrefix:], udp) {
		t.Errorf("over IP %x\nover UDP   %x", ip[V3IPControlPrefix:], udp)
	}
	if err := VerifyV3(ip, false, key, []byte("n1")); err != nil {
		t.Error(err)
	}
}

func TestV3DigestBadInput(t *testing.T) {
	key := V3SharedKey(nil)
	for name, b := range map[string][]byte{
		"empty":     nil,
		"header":    AppendV3ControlHeader(nil, true, 1, 0, 0),
		"no-digest": append(AppendV3ControlHeader(nil, true, 1, 0, 0), 0x80, 8, 0, 0, 0, 0, 0, 6),
		"bad-type":  append(append(AppendV3ControlHeader(nil, true, 1, 0, 0), 0x80, 8, 0, 0, 0, 0, 0, 6, 0x80, 23, 0, 0, 0, 59, 9), make([]byte, 16)...),
		"short":     append(AppendV3ControlHeader(nil, true, 1, 0, 0), 0x80, 8, 0, 0, 0, 0, 0, 6, 0x80, 23, 0, 0, 0, 59, 0, 1, 2),
	} {
		if err := VerifyV3(b, true, key); !errors.Is(err, ErrNoDigest) {
			t.Errorf("%s: %v, want ErrNoDigest", name, err)
		}
		if err := SealV3(b, true, key); !errors.Is(err, ErrNoDigest) {
			t.Errorf("%s: seal: %v, want ErrNoDigest", name, err)
		}
	}
}

func FuzzVerifyV3(f *testing.F) {
	m := V3Message{Type: MsgHELLO, Digests: []MessageDigest{{Type: DigestHMACSHA1, Digest: make([]byte, 20)}}}
	m.Set(AVPMessageDigest)
	b, _ := m.AppendAVPs(AppendV3ControlHeader(nil, true, 1, 0, 0))
	_ = FinishV3Control(b, true)
	f.Add(b, true)
	f.Add(append([]byte{0, 0, 0, 0}, b...), false)
	key := V3SharedKey([]byte("k"))
	f.Fuzz(func(t *testing.T, b []byte, udp bool) {
		orig := append([]byte(nil), b...)
		_ = VerifyV3(b, udp, key, []byte("a"))
		if !bytes.Equal(orig, b) {
			t.Fatal("VerifyV3 changed the message")
		}
	})
}
