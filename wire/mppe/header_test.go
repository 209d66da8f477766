package mppe

import (
	"bytes"
	"errors"
	"testing"
)

func TestHeader(t *testing.T) {
	for _, tc := range []struct {
		hex  string
		h    Header
		name string
	}{
		{"10 00", Header{FlagEncrypted, 0}, "D"},
		{"90 ff", Header{FlagFlushed | FlagEncrypted, 0xff}, "A|D"},
		{"9f ff", Header{FlagFlushed | FlagEncrypted, 0xfff}, "A|D"},
		{"f1 23", Header{0xf0, 0x123}, "A|B|C|D"},
		{"00 01", Header{0, 1}, "0"},
	} {
		b := unhex(t, tc.hex)
		h, err := ParseHeader(append(b, 0xaa))
		if err != nil || h != tc.h {
			t.Errorf("%s: %+v, %v", tc.hex, h, err)
		}
		if got, err := tc.h.Append(nil); err != nil || !bytes.Equal(got, b) {
			t.Errorf("%s: Append = %x, %v", tc.hex, got, err)
		}
		if h.Flags.String() != tc.name {
			t.Errorf("%s: flags %q", tc.hex, h.Flags)
		}
	}
	for _, b := range [][]byte{nil, {0x90}} {
		if _, err := ParseHeader(b); err != ErrShort {
			t.Errorf("%x: %v", b, err)
		}
	}
	for _, h := range []Header{{FlagEncrypted, 0x1000}, {0x08, 1}} {
		if got, err := h.Append([]byte{1}); !errors.Is(err, ErrHeader) || len(got) != 1 {
			t.Errorf("%+v: %x, %v", h, got, err)
		}
	}
	if s := Flags(0x85).String(); s != "A|0x5" {
		t.Errorf("%q", s)
	}
}

func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		hex  string
		o    Options
		name string
	}{
		{"12 06 01 00 00 40", OptStateless | Opt128, "stateless 128-bit"},
		{"12 06 00 00 00 e0", Opt40 | Opt56 | Opt128, "128-bit 56-bit 40-bit"},
		{"12 06 00 00 00 01", OptMPPC, "MPPC"},
		{"12 06 00 00 00 00", 0, "none"},
		{"12 06 02 00 00 30", 0x02000000 | OptObsolete | Opt40, "40-bit obsolete-D 0x02000000"},
	} {
		b := unhex(t, tc.hex)
		o, err := ParseOption(b)
		if err != nil || o != tc.o || o.String() != tc.name {
			t.Errorf("%s: %v %q, %v", tc.hex, o, o, err)
		}
		if v, err := ParseOptionValue(b[2:]); err != nil || v != o {
			t.Errorf("%s: value %v, %v", tc.hex, v, err)
		}
		if got := o.AppendOption(nil); !bytes.Equal(got, b) {
			t.Errorf("%s: AppendOption %x", tc.hex, got)
		}
	}
	for _, bad := range []string{"", "12", "12 06 00 00 00", "13 06 00 00 00 40", "12 05 00 00 00 40", "12 07 00 00 00 40 00"} {
		if _, err := ParseOption(unhex(t, bad)); !errors.Is(err, ErrOption) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	for _, bad := range []string{"", "00 00 00", "00 00 00 00 00"} {
		if _, err := ParseOptionValue(unhex(t, bad)); !errors.Is(err, ErrOption) {
			t.Errorf("value %q: %v", bad, err)
		}
	}
	for _, tc := range []struct {
		o  Options
		s  Strength
		ok bool
	}{{Opt40 | Opt128, Key128, true}, {Opt40 | Opt56, Key56, true}, {Opt40, Key40, true}, {OptStateless, 0, false}} {
		if s, ok := tc.o.Strongest(); s != tc.s || ok != tc.ok {
			t.Errorf("%v: Strongest = %v %v", tc.o, s, ok)
		}
	}
	if o := (OptStateless | Opt40 | Opt128).WithStrength(Key56); o != OptStateless|Opt56 {
		t.Errorf("WithStrength = %v", o)
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add([]byte{0x90, 0x01})
	f.Add([]byte{0x10})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader(b)
		if (err == nil) != (len(b) >= HeaderLen) {
			t.Fatalf("len %d: %v", len(b), err)
		}
		if err != nil {
			return
		}
		got, err := h.Append(nil)
		if err != nil || !bytes.Equal(got, b[:HeaderLen]) {
			t.Fatalf("round trip %x: %x, %v", b[:HeaderLen], got, err)
		}
	})
}

func FuzzParseOption(f *testing.F) {
	f.Add([]byte{18, 6, 1, 0, 0, 0x40})
	f.Add([]byte{18, 6, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := ParseOption(b)
		if err != nil {
			return
		}
		_ = o.String()
		if got := o.AppendOption(nil); !bytes.Equal(got, b[:OptionLen]) {
			t.Fatalf("round trip %x: %x", b[:OptionLen], got)
		}
	})
}
