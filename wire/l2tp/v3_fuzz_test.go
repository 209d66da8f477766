package l2tp

import (
	"bytes"
	"reflect"
	"testing"
)

func v3Seeds(f *testing.F) {
	for _, s := range []string{fixV3IPData, fixV3UDPData, fixV3IPData8, fixV3IPHello, realV3SCCRQ} {
		f.Add(unhex(f, s), true)
		f.Add(unhex(f, s), false)
	}
	for _, typ := range []MsgType{MsgSCCRQ, MsgICRQ, MsgCDN} {
		m := fullV3(typ)
		b, _ := m.AppendAVPs(AppendV3ControlHeader(nil, true, 1, 0, 0))
		_ = FinishV3Control(b, true)
		f.Add(b, true)
	}
}

// FuzzV3Data: whatever V3Classify accepts as data re-encodes, with the
// cookie and sublayer read from it, to the same header.
func FuzzV3Data(f *testing.F) {
	v3Seeds(f)
	f.Fuzz(func(t *testing.T, b []byte, udp bool) {
		id, ctl, err := V3Classify(b, udp)
		if err != nil || ctl {
			return
		}
		off := V3DataHeaderLen(udp, 0, false)
		for _, n := range []int{0, 4, 8} {
			if len(b) < off+n+L2SSLen {
				continue
			}
			c, err := MakeCookie(b[off : off+n])
			if err != nil || !c.Match(b[off:]) {
				t.Fatalf("cookie of %d: %v", n, err)
			}
			seq, ns, err := ParseL2SS(b[off+n:])
			if err != nil {
				t.Fatal(err)
			}
			h := AppendV3DataHeader(nil, udp, id, c, true, seq, ns)
			id2, _, err := V3Classify(h, udp)
			if err != nil || id2 != id || !bytes.Equal(h[len(h)-L2SSLen-n:len(h)-L2SSLen], b[off:off+n]) {
				t.Fatalf("round trip %x -> %x (%v)", b, h, err)
			}
			seq2, ns2, _ := ParseL2SS(h[len(h)-L2SSLen:])
			if seq2 != seq || (seq && ns2 != ns) {
				t.Fatalf("L2SS %v/%d -> %v/%d", seq, ns, seq2, ns2)
			}
		}
	})
}

// FuzzV3Message: a v3 control message that decodes re-encodes to one
// that decodes to the same V3Message.
func FuzzV3Message(f *testing.F) {
	v3Seeds(f)
	f.Fuzz(func(t *testing.T, b []byte, udp bool) {
		h, err := ParseV3Control(b, udp)
		if err != nil {
			return
		}
		var m V3Message
		if err := m.Decode(h.Payload(b), []byte("secret")); err != nil {
			return
		}
		m.UnknownOptional, m.Vendor = 0, 0
		out, err := m.AppendAVPs(AppendV3ControlHeader(nil, udp, h.CCID, h.Ns, h.Nr))
		if err != nil {
			return // a value too long once unhidden
		}
		if err := FinishV3Control(out, udp); err != nil {
			return
		}
		h2, err := ParseV3Control(out, udp)
		if err != nil {
			t.Fatal(err)
		}
		var m2 V3Message
		if err := m2.Decode(h2.Payload(out), nil); err != nil {
			t.Fatalf("re-encoded message: %v", err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip\n got %+v\nwant %+v", m2, m)
		}
	})
}
