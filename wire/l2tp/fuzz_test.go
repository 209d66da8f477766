package l2tp

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"
)

func seeds(f *testing.F) {
	for _, s := range []string{fixSCCRQ, fixStopCCN, fixICRQ, fixICCN, fixCDN, fixZLB, fixSLI, fixWEN, realHELLO, realV3SCCRQ} {
		b, _ := hex.DecodeString(strings.Join(strings.Fields(s), ""))
		f.Add(b)
	}
	f.Add([]byte{0x4a, 0x02, 0x00, 0x10, 0x30, 0x73, 0x75, 0x4c, 0, 1, 0, 0, 0, 0, 0xff, 0x03})
	for _, b := range peerMessages(f) {
		f.Add(b)
	}
}

// FuzzParseHeader: never panics, payload inside the buffer, and a data
// header re-encoded from the result parses to the same fields.
func FuzzParseHeader(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader(b)
		if err != nil {
			return
		}
		p := h.Payload(b)
		if h.IsControl() {
			return
		}
		out := AppendDataHeader(nil, h.TunnelID, h.SessionID, h.HasSequence(), h.Ns, len(p))
		out = append(out, p...)
		h2, err := ParseHeader(out)
		if err != nil {
			t.Fatal(err)
		}
		if h2.TunnelID != h.TunnelID || h2.SessionID != h.SessionID || h2.Ns != h.Ns || !bytes.Equal(h2.Payload(out), p) {
			t.Fatalf("round trip %+v -> %+v", h, h2)
		}
	})
}

// FuzzMessage: a control message that decodes re-encodes to one that
// decodes to the same Message.
func FuzzMessage(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader(b)
		if err != nil || !h.IsControl() {
			return
		}
		var m Message
		if err := m.Decode(h.Payload(b), []byte("secret")); err != nil {
			return
		}
		m.UnknownOptional, m.Vendor = 0, 0
		out, err := m.Append(nil, h.TunnelID, h.SessionID, h.Ns, h.Nr, nil)
		if err != nil {
			return // e.g. values grown past an AVP by unhiding cannot happen; lengths can
		}
		h2, err := ParseHeader(out)
		if err != nil {
			t.Fatal(err)
		}
		var m2 Message
		if err := m2.Decode(h2.Payload(out), nil); err != nil {
			t.Fatalf("re-decode: %v\n%x", err, out)
		}
		if !reflect.DeepEqual(norm(m), norm(m2)) {
			t.Fatalf("round trip\n%+v\n%+v", m, m2)
		}
	})
}

func norm(m Message) Message {
	// nil and empty slices compare equal after a round trip.
	for _, p := range []*[]byte{&m.Challenge, &m.ChallengeResponse, &m.PrivateGroupID, &m.InitialRecvLCP,
		&m.LastSentLCP, &m.LastRecvLCP, &m.ProxyAuthChallenge, &m.ProxyAuthResponse, &m.RandomVector} {
		if len(*p) == 0 {
			*p = nil
		}
	}
	return m
}

// FuzzAVP: the iterator never reads past the buffer, the AVPs it yields
// re-encode to exactly the octets consumed.
func FuzzAVP(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewAVPDecoder(b)
		e := NewAVPEncoder(nil)
		for d.Next() {
			a := d.AVP()
			if a.Hidden {
				if e.header(a.Mandatory, true, a.Vendor, a.Type, len(a.Value)) {
					e.b = append(e.b, a.Value...)
				}
				continue
			}
			e.Raw(a.Mandatory, a.Vendor, a.Type, a.Value)
		}
		out, err := e.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if d.Err() == nil {
			// Reserved bits are not preserved; compare with them cleared.
			in := append([]byte(nil), b...)
			for off := 0; off+6 <= len(in); {
				in[off] &^= byte(avpRsvd >> 8)
				off += int(uint16(in[off])<<8|uint16(in[off+1])) & avpLenMask
			}
			if !bytes.Equal(out, in) {
				t.Fatalf("re-encoded %x, want %x", out, in)
			}
		}
	})
}

// FuzzHiding: hide then unhide returns the value for any secret and RV.
func FuzzHiding(f *testing.F) {
	f.Add([]byte("secret"), []byte("rv"), []byte("value"), uint16(30))
	f.Fuzz(func(t *testing.T, secret, rv, v []byte, typ uint16) {
		if len(secret) == 0 || len(rv) == 0 || len(v) > 900 {
			return
		}
		e := NewAVPEncoder(nil)
		e.SetHiding(secret, rv, func(n int) []byte { return make([]byte, n) })
		e.Hidden(false, AVPType(typ), v)
		b, err := e.Bytes()
		if err != nil {
			return
		}
		got, err := Unhide(AVPType(typ), secret, rv, b[6:], nil)
		if err != nil || !bytes.Equal(got, v) {
			t.Fatalf("unhide %x: %v", got, err)
		}
		// And the decoder on arbitrary hidden input never panics.
		_, _ = Unhide(AVPType(typ), secret, rv, v, nil)
	})
}
