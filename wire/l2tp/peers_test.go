package l2tp

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// peerMessages returns the control messages real implementations sent to
// vpdn in the interop tests (xl2tpd as LNS and as LAC, l2tpns, SoftEther),
// captured with tshark: testdata/peers/PEER-NN-typeT.hex or -zlb.hex.
func peerMessages(tb testing.TB) map[string][]byte {
	files, _ := filepath.Glob("testdata/peers/*.hex")
	out := map[string][]byte{}
	for _, f := range files {
		s, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		b, err := hex.DecodeString(strings.TrimSpace(string(s)))
		if err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(f)] = b
	}
	return out
}

// TestPeerMessages: every message xl2tpd, l2tpns and SoftEther sent us
// parses, has the AVPs its type requires, and survives encode/decode.
func TestPeerMessages(t *testing.T) {
	msgs := peerMessages(t)
	if len(msgs) < 20 {
		t.Fatalf("only %d captured peer messages", len(msgs))
	}
	for name, b := range msgs {
		h, err := ParseHeader(b)
		if err != nil || !h.IsControl() || !h.HasSequence() {
			t.Errorf("%s: header %+v, %v", name, h, err)
			continue
		}
		if strings.HasSuffix(name, "-zlb.hex") {
			if len(h.Payload(b)) != 0 {
				t.Errorf("%s: ZLB with a payload", name)
			}
			continue
		}
		_, rest, _ := strings.Cut(name, "-type")
		want, _ := strconv.Atoi(strings.TrimSuffix(rest, ".hex"))
		var m Message
		if err := m.Decode(h.Payload(b), nil); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if int(m.Type) != want {
			t.Errorf("%s: message type %v, want %d", name, m.Type, want)
		}
		if err := m.CheckRequired(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		m.UnknownOptional, m.Vendor = 0, 0
		out, err := m.Append(nil, h.TunnelID, h.SessionID, h.Ns, h.Nr, nil)
		if err != nil {
			t.Errorf("%s: re-encode: %v", name, err)
			continue
		}
		h2, _ := ParseHeader(out)
		var m2 Message
		if err := m2.Decode(h2.Payload(out), nil); err != nil || !reflect.DeepEqual(norm(m), norm(m2)) {
			t.Errorf("%s: round trip: %v\n%+v\n%+v", name, err, m, m2)
		}
	}
}
