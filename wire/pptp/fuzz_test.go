package pptp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func controlSeeds(f *testing.F) [][]byte {
	var out [][]byte
	for _, c := range fixtures {
		b, _ := hex.DecodeString(strings.Join(strings.Fields(c.hex), ""))
		f.Add(b)
		out = append(out, b)
	}
	f.Add([]byte{0x00, 0x10, 0x00, 0x01, 0xde, 0xad})
	return out
}

// FuzzParse: Parse never panics; a message it accepts encodes to a
// message of the type's length that parses to the same value, and whose
// octets equal the input except in reserved fields and text padding.
func FuzzParse(f *testing.F) {
	controlSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			if m != nil || !strings.HasPrefix(err.Error(), "pptp: ") {
				t.Fatalf("%v, %v", m, err)
			}
			return
		}
		out, err := Append(nil, m)
		if err != nil {
			t.Fatalf("parsed %+v does not encode: %v", m, err)
		}
		if len(out) != len(b) {
			t.Fatalf("%v: %d octets in, %d out", m.Type(), len(b), len(out))
		}
		m2, err := Parse(out)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip\n%+v\n%+v", m, m2)
		}
		again, _ := Append(nil, m2)
		if !bytes.Equal(out, again) {
			t.Fatal("encoding is not stable")
		}
	})
}

// FuzzSplit: over any stream, Split yields messages that tile a prefix of
// it, each with a Length in bounds and the magic cookie, and stops with
// an error or an incomplete tail of less than its Length.
func FuzzSplit(f *testing.F) {
	seeds := controlSeeds(f)
	f.Add(bytes.Join(seeds, nil))
	f.Add(append(bytes.Clone(seeds[0]), seeds[2][:7]...))
	f.Fuzz(func(t *testing.T, b []byte) {
		rest := b
		for range len(b) + 1 {
			msg, r, err := Split(rest)
			if err != nil {
				if msg != nil || !(errors.Is(err, ErrLength) || errors.Is(err, ErrMagicCookie)) {
					t.Fatalf("%x, %v", msg, err)
				}
				return
			}
			if msg == nil {
				if !bytes.Equal(r, rest) {
					t.Fatal("an incomplete stream was consumed")
				}
				if len(r) >= HeaderLen && len(r) >= int(r[0])<<8|int(r[1]) {
					t.Fatalf("a whole message was not split off: %x", r)
				}
				return
			}
			if len(msg) < HeaderLen || len(msg) > MaxMessageLen || len(msg)+len(r) != len(rest) ||
				!bytes.Equal(msg, rest[:len(msg)]) || int(msg[0])<<8|int(msg[1]) != len(msg) ||
				!bytes.Equal(msg[4:8], []byte{0x1a, 0x2b, 0x3c, 0x4d}) {
				t.Fatalf("split %x from %x", msg, rest)
			}
			rest = r
		}
		t.Fatal("Split did not terminate")
	})
}

// FuzzParseGRE: ParseGRE never panics, its payload lies within the
// packet right after the header, and the header re-encodes to a packet
// that parses to the same header and payload.
func FuzzParseGRE(f *testing.F) {
	for _, c := range greFixtures {
		b, _ := hex.DecodeString(strings.Join(strings.Fields(c.hex), ""))
		f.Add(b)
	}
	f.Add([]byte{0x30, 0x81, 0x88, 0x0b, 0xff, 0xff, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, p, err := ParseGRE(b)
		if err != nil {
			if p != nil {
				t.Fatal("payload with an error")
			}
			return
		}
		if int(h.PayloadLen) != len(p) || h.Len()+len(p) > len(b) || !bytes.Equal(b[h.Len():h.Len()+len(p)], p) {
			t.Fatalf("%+v payload %x of %x", h, p, b)
		}
		out := AppendGRE(nil, h, p)
		if !bytes.Equal(out, b[:h.Len()+len(p)]) {
			t.Fatalf("re-encoded %x from %x", out, b)
		}
		h2, p2, err := ParseGRE(out)
		if err != nil || h2 != h || !bytes.Equal(p2, p) {
			t.Fatalf("round trip %+v %+v %v", h, h2, err)
		}
	})
}
