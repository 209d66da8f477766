package ppp

import (
	"bytes"
	"testing"
)

func TestPAP(t *testing.T) {
	// RFC 1334 §2.2.1 request from "labuser"/"labpass".
	data := unhex(t, "07 6c616275736572 07 6c616270617373")
	id, pw, err := ParsePAPRequest(data)
	if err != nil || string(id) != "labuser" || string(pw) != "labpass" {
		t.Fatal(id, pw, err)
	}
	if enc := AppendPAPRequest(nil, id, pw); !bytes.Equal(enc, data) {
		t.Fatalf("%x", enc)
	}
	for _, bad := range []string{"", "07 6c6162", "03 616263", "03 616263 05 6162"} {
		if _, _, err := ParsePAPRequest(unhex(t, bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if m, err := ParsePAPMessage(unhex(t, "02 6f6b ff")); err != nil || string(m) != "ok" {
		t.Fatal(m, err)
	}
	if m, err := ParsePAPMessage(nil); err != nil || m != nil { // SoftEther's Ack
		t.Fatal(m, err)
	}
	if _, err := ParsePAPMessage(unhex(t, "05 6f6b")); err != ErrFieldLength {
		t.Fatal(err)
	}
}

func TestCHAP(t *testing.T) {
	data := unhex(t, "10 00112233445566778899aabbccddeeff 4c4e53")
	v, name, err := ParseCHAPValue(data)
	if err != nil || len(v) != 16 || string(name) != "LNS" {
		t.Fatal(v, name, err)
	}
	if enc := AppendCHAPValue(nil, v, name); !bytes.Equal(enc, data) {
		t.Fatalf("%x", enc)
	}
	for _, bad := range []string{"", "00 41", "10 0011"} {
		if _, _, err := ParseCHAPValue(unhex(t, bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestMSCHAPResponses(t *testing.T) {
	v := make([]byte, 49)
	for i := range v {
		v[i] = byte(i)
	}
	r2, err := ParseMSCHAPv2Response(v)
	if err != nil || r2.PeerChallenge[15] != 15 || r2.NTResponse[0] != 24 || r2.Flags != 48 {
		t.Fatal(r2, err)
	}
	if !bytes.Equal(r2.Append(nil), v) {
		t.Fatal("v2 round trip")
	}
	r1, err := ParseMSCHAPv1Response(v)
	if err != nil || r1.LMResponse[23] != 23 || r1.NTResponse[0] != 24 || r1.UseNT != 48 {
		t.Fatal(r1, err)
	}
	if !bytes.Equal(r1.Append(nil), v) {
		t.Fatal("v1 round trip")
	}
	if _, err := ParseMSCHAPv2Response(v[:48]); err != ErrOptionValue {
		t.Fatal("short v2 accepted")
	}
	if _, err := ParseMSCHAPv1Response(append(v, 0)); err != ErrOptionValue {
		t.Fatal("long v1 accepted")
	}
}

func TestMSCHAPFailure(t *testing.T) {
	msg := "E=691 R=1 C=00112233445566778899AABBCCDDEEFF V=3 M=Authentication failure"
	f, err := ParseMSCHAPFailure(msg)
	if err != nil || f.Error != 691 || !f.Retry || len(f.Challenge) != 16 || f.Version != 3 || f.Message != "Authentication failure" {
		t.Fatalf("%+v %v", f, err)
	}
	if f.String() != msg {
		t.Fatalf("String() = %q", f.String())
	}
	f, err = ParseMSCHAPFailure("E=691 R=0")
	if err != nil || f.Error != 691 || f.Retry || f.Challenge != nil {
		t.Fatalf("%+v %v", f, err)
	}
	// v1: 8-octet challenge, V=2 (RFC 2433 §6).
	if f, err = ParseMSCHAPFailure("E=646 R=0 C=0011223344556677 V=2"); err != nil || len(f.Challenge) != 8 {
		t.Fatalf("%+v %v", f, err)
	}
	for _, bad := range []string{"", "R=1", "E=abc R=0", "E=691 R=2", "E=691 C=00 V=3", "E=691 V=x", "E691", "E=691 junk"} {
		if _, err := ParseMSCHAPFailure(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestMSCHAPv2Success(t *testing.T) {
	s, m, err := ParseMSCHAPv2Success("S=407A5589115FD0D6209F510FE9C04566932CDA56 M=Welcome")
	if err != nil || s != "S=407A5589115FD0D6209F510FE9C04566932CDA56" || m != "Welcome" {
		t.Fatal(s, m, err)
	}
	if _, m, err = ParseMSCHAPv2Success("S=407A5589115FD0D6209F510FE9C04566932CDA56"); err != nil || m != "" {
		t.Fatal(m, err)
	}
	for _, bad := range []string{"", "S=407A", "X=407A5589115FD0D6209F510FE9C04566932CDA56", "S=ZZ7A5589115FD0D6209F510FE9C04566932CDA56"} {
		if _, _, err := ParseMSCHAPv2Success(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestEAP(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want EAPPacket
		err  error
	}{
		{"identity request", "01 01 0005 01", EAPPacket{EAPRequest, 1, EAPTypeIdentity, []byte{}}, nil},
		{"identity response", "02 01 000a 01 6c61627573", EAPPacket{EAPResponse, 1, EAPTypeIdentity, []byte("labus")}, nil},
		{"md5 challenge", "01 02 0009 04 02 abcd 58", EAPPacket{EAPRequest, 2, EAPTypeMD5, unhex(t, "02abcd58")}, nil},
		{"nak", "02 02 0006 03 04", EAPPacket{EAPResponse, 2, EAPTypeNak, []byte{4}}, nil},
		{"success", "03 02 0004", EAPPacket{EAPSuccess, 2, 0, nil}, nil},
		{"failure", "04 02 0004", EAPPacket{EAPFailure, 2, 0, nil}, nil},
		{"request without type", "01 01 0004", EAPPacket{}, ErrBadLength},
		{"short", "01 01", EAPPacket{}, ErrShort},
		{"length lies", "01 01 0009 01", EAPPacket{}, ErrLength},
		{"length below 4", "03 01 0002", EAPPacket{}, ErrBadLength},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParseEAP(unhex(t, c.in))
			if err != c.err {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if err != nil {
				return
			}
			if p.Code != c.want.Code || p.ID != c.want.ID || p.Type != c.want.Type || !bytes.Equal(p.Data, c.want.Data) {
				t.Fatalf("got %+v, want %+v", p, c.want)
			}
			if enc := AppendEAP(nil, p.Code, p.ID, p.Type, p.Data); !bytes.Equal(enc, unhex(t, c.in)) {
				t.Fatalf("encoded %x", enc)
			}
		})
	}
}
