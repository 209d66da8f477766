package type7

import (
	"errors"
	"testing"
)

func TestType7KnownAnswers(t *testing.T) {
	for _, tc := range []struct{ enc, plain string }{
		// Widely published IOS outputs of "password cisco".
		{"0822455D0A16", "cisco"},
		{"045802150C2E", "cisco"},
		{"00", ""},
	} {
		got, err := Decode(tc.enc)
		if err != nil || got != tc.plain {
			t.Errorf("Decode(%q) = %q, %v; want %q", tc.enc, got, err, tc.plain)
		}
	}
	if got, err := Encode("cisco", 8); err != nil || got != "0822455D0A16" {
		t.Errorf("Encode(cisco, 8) = %q, %v", got, err)
	}
}

func TestType7Bad(t *testing.T) {
	for _, s := range []string{"", "0", "082", "A822455D0A16", "0822455D0A1G", "99AA", "5300", "0822455D0A1"} {
		if _, err := Decode(s); !errors.Is(err, ErrBad) {
			t.Errorf("Decode(%q) = %v", s, err)
		}
	}
	if _, err := Encode("x", 16); !errors.Is(err, ErrBad) {
		t.Errorf("seed 16: %v", err)
	}
}

func TestType7RoundTrip(t *testing.T) {
	long := "a long password that wraps past the end of the fifty-three octet key!"
	for seed := 0; seed <= 15; seed++ {
		enc, err := Encode(long, seed)
		if err != nil {
			t.Fatal(err)
		}
		if dec, err := Decode(enc); err != nil || dec != long {
			t.Fatalf("seed %d: %q %v", seed, dec, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{"0822455D0A16", "00", "", "5299", "0x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		plain, err := Decode(s)
		if err != nil {
			return
		}
		if len(plain) != len(s)/2-1 {
			t.Fatalf("%q decoded to %d octets", s, len(plain))
		}
		if s[0] == '0' || s[0] == '1' && s[1] <= '5' {
			seed := int(s[0]-'0')*10 + int(s[1]-'0')
			enc, err := Encode(plain, seed)
			if err != nil {
				t.Fatal(err)
			}
			if back, _ := Decode(enc); back != plain {
				t.Fatalf("round trip of %q: %q", s, back)
			}
		}
	})
}
