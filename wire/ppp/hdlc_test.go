package ppp

import (
	"bytes"
	"testing"
)

func TestFCSTable(t *testing.T) {
	// Spot values of the table printed in RFC 1662 §C.2.
	want := map[int]uint16{0: 0x0000, 1: 0x1189, 2: 0x2312, 3: 0x329b, 7: 0x74bf, 8: 0x8c48,
		0x80: 0x8408, 0xf8: 0x7bc7, 0xfe: 0x1ef1, 0xff: 0x0f78}
	for i, w := range want {
		if fcsTable[i] != w {
			t.Errorf("fcstab[%#x] = %#04x, want %#04x", i, fcsTable[i], w)
		}
	}
	// CRC-16/X-25 check value of "123456789".
	if got := FCS16(FCSInit, []byte("123456789")) ^ 0xFFFF; got != 0x906E {
		t.Errorf("check value = %#04x, want 0x906e", got)
	}
	// A frame followed by its complemented FCS (LSB first) leaves the good
	// residue 0xF0B8 (RFC 1662 §C.2).
	frame := unhex(t, "ff03c021 01010004")
	fcs := FCS16(FCSInit, frame) ^ 0xFFFF
	if got := FCS16(FCSInit, append(frame, byte(fcs), byte(fcs>>8))); got != FCSGood {
		t.Errorf("residue = %#04x, want %#04x", got, FCSGood)
	}
}

func TestAppendHDLC(t *testing.T) {
	// LCP Configure-Request with ACCM 0: every octet below 0x20 escaped
	// under the default map, flag and escape octets always.
	frame := unhex(t, "ff03c021 0101000a 02060000 0000")
	got := AppendHDLC(nil, frame, DefaultACCM)
	fcs := FCS16(FCSInit, frame) ^ 0xFFFF
	want := []byte{0x7e, 0xff, 0x7d, 0x23, 0xc0, 0x21, 0x7d, 0x21, 0x7d, 0x21, 0x7d, 0x20, 0x7d, 0x2a,
		0x7d, 0x22, 0x7d, 0x26, 0x7d, 0x20, 0x7d, 0x20, 0x7d, 0x20, 0x7d, 0x20}
	want = appendEscaped(want, byte(fcs), DefaultACCM)
	want = appendEscaped(want, byte(fcs>>8), DefaultACCM)
	want = append(want, 0x7e)
	if !bytes.Equal(got, want) {
		t.Fatalf("got  %x\nwant %x", got, want)
	}
	// With ACCM 0 only 0x7e and 0x7d are escaped.
	got = AppendHDLC(nil, []byte{0x21, 0x7e, 0x7d, 0x01}, 0)
	if !bytes.HasPrefix(got, []byte{0x7e, 0x21, 0x7d, 0x5e, 0x7d, 0x5d, 0x01}) {
		t.Fatalf("ACCM 0: %x", got)
	}
}

func decodeAll(d *Decoder, in []byte) (frames [][]byte, errs []error) {
	for len(in) > 0 {
		f, n, err := d.Next(in)
		in = in[n:]
		if err != nil {
			errs = append(errs, err)
		} else if f != nil {
			frames = append(frames, bytes.Clone(f))
		}
	}
	return
}

func TestDecoderStreaming(t *testing.T) {
	f1 := unhex(t, "ff03c021 01010004")
	f2 := unhex(t, "21 45000014 7e7d")
	stream := AppendHDLC(nil, f1, DefaultACCM)
	stream = AppendHDLC(stream, f2, 0)
	stream = append(stream, 0x7e, 0x7e) // idle flags
	// Feed the stream split at every possible point, and byte by byte.
	for split := 0; split <= len(stream); split++ {
		d := NewDecoder(1500)
		a, errs := decodeAll(d, stream[:split])
		b, errs2 := decodeAll(d, stream[split:])
		all := append(a, b...)
		if len(errs)+len(errs2) != 0 || len(all) != 2 || !bytes.Equal(all[0], f1) || !bytes.Equal(all[1], f2) {
			t.Fatalf("split %d: frames %x errs %v %v", split, all, errs, errs2)
		}
	}
	d := NewDecoder(1500)
	var frames [][]byte
	for i := range stream {
		fs, errs := decodeAll(d, stream[i:i+1])
		if len(errs) != 0 {
			t.Fatal(errs)
		}
		frames = append(frames, fs...)
	}
	if len(frames) != 2 {
		t.Fatalf("byte by byte: %d frames", len(frames))
	}
}

func TestDecoderBadInput(t *testing.T) {
	good := AppendHDLC(nil, unhex(t, "ff03c021 01010004"), DefaultACCM)
	corrupt := bytes.Clone(good)
	corrupt[3] ^= 0x01
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"bad FCS", corrupt, ErrFCS},
		{"runt", []byte{0x7e, 0x21, 0x00, 0x7e}, ErrRunt},
		{"abort", []byte{0x7e, 0xff, 0x03, 0x7d, 0x7e}, ErrAbort},
		{"too long", append(append([]byte{0x7e}, bytes.Repeat([]byte{0x21}, 40)...), 0x7e), ErrFrameTooLong},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := NewDecoder(16)
			frames, errs := decodeAll(d, append(bytes.Clone(c.in), good...))
			if len(errs) != 1 || errs[0] != c.want {
				t.Fatalf("errs = %v, want [%v]", errs, c.want)
			}
			// The decoder recovers at the next flag.
			if len(frames) != 1 {
				t.Fatalf("good frame after a bad one not decoded: %x", frames)
			}
		})
	}
}

func TestDecoderAllocs(t *testing.T) {
	stream := AppendHDLC(nil, unhex(t, "21 450000140000"), DefaultACCM)
	d := NewDecoder(1500)
	allocs := testing.AllocsPerRun(100, func() {
		in := stream
		for len(in) > 0 {
			_, n, _ := d.Next(in)
			in = in[n:]
		}
	})
	if allocs != 0 {
		t.Fatalf("decoder allocates %v per frame", allocs)
	}
}
