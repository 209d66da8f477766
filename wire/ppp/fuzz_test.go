package ppp

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"
)

func seed(f *testing.F, hexes ...string) {
	for _, h := range hexes {
		b, err := hex.DecodeString(strings.ReplaceAll(h, " ", ""))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzParseFrame(f *testing.F) {
	seed(f, "ff03c02101010004", "214500", "ff030021", "c020", "")
	f.Fuzz(func(t *testing.T, b []byte) {
		p, payload, err := ParseFrame(b)
		if err != nil {
			return
		}
		if !p.Valid() && p.Compressible() && p&1 == 0 {
			t.Fatalf("invalid protocol %#x accepted", uint16(p))
		}
		// Re-encode with a full header and parse back.
		re := Framing{AddressControl: true}.Append(nil, p)
		re = append(re, payload...)
		p2, payload2, err := ParseFrame(re)
		if err != nil || p2 != p || !bytes.Equal(payload, payload2) {
			t.Fatalf("round trip: %v %x %v", p2, payload2, err)
		}
	})
}

func FuzzHDLCDecoder(f *testing.F) {
	f.Add([]byte{0x7e, 0xff, 0x7d, 0x23, 0xc0, 0x21, 0x7e}, uint32(0xffffffff), 3)
	f.Add([]byte{0x21, 0x45, 0x00}, uint32(0), 1)
	f.Fuzz(func(t *testing.T, in []byte, accm uint32, split int) {
		// Arbitrary input, split anywhere: no panic, frames within bounds.
		d := NewDecoder(64)
		if split < 0 || split > len(in) {
			split = len(in) / 2
		}
		for _, part := range [][]byte{in[:split], in[split:]} {
			for len(part) > 0 {
				fr, n, _ := d.Next(part)
				if n <= 0 || n > len(part) {
					t.Fatalf("consumed %d of %d", n, len(part))
				}
				if len(fr) > 64 {
					t.Fatalf("frame of %d octets beyond the limit", len(fr))
				}
				part = part[n:]
			}
		}
		// The input as a frame survives encode and decode under any ACCM.
		if len(in) < 2 || len(in) > 64 {
			return
		}
		enc := AppendHDLC(nil, in, accm)
		if bytes.IndexByte(enc[1:len(enc)-1], Flag) >= 0 {
			t.Fatal("flag inside an encoded frame")
		}
		d = NewDecoder(64)
		fr, _, err := d.Next(enc)
		if err != nil || !bytes.Equal(fr, in) {
			t.Fatalf("round trip: %x %v", fr, err)
		}
	})
}

// fuzzOptions parses a control packet and its options with the typed value
// decoders, then rebuilds it from the options and compares.
func fuzzOptions(t *testing.T, b []byte, typed func(Option)) {
	p, err := ParsePacket(b)
	if err != nil {
		return
	}
	switch p.Code {
	case ConfReq, ConfAck, ConfNak, ConfRej:
	default:
		return
	}
	var re []byte
	it := Options(p.Data)
	for it.Next() {
		o := it.Option()
		typed(o)
		re = AppendOption(re, o.Type, o.Value)
	}
	if it.Err() != nil {
		return
	}
	if !bytes.Equal(re, p.Data) {
		t.Fatalf("options rebuilt %x, were %x", re, p.Data)
	}
	if out := AppendPacket(nil, p.Code, p.ID, re); !bytes.Equal(out, b[:p.Len()]) {
		t.Fatalf("packet rebuilt %x, was %x", out, b[:p.Len()])
	}
}

func FuzzLCP(f *testing.F) {
	seed(f, "0101000f0305c2230505060fe5de30", "01010017010405dc0305c2230505060fe5de3007020802",
		"0201000a02060000000000", "04010008070208020000", "0101000501", "010100060100")
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzOptions(t, b, func(o Option) {
			switch o.Type {
			case LCPOptMRU:
				OptionUint16(o.Value)
			case LCPOptACCM, LCPOptMagic:
				OptionUint32(o.Value)
			case LCPOptAuthProto:
				if a, err := ParseAuthProto(o.Value); err == nil {
					if enc := AppendAuthProtoOption(nil, a); !bytes.Equal(enc, o.Raw) && a.Protocol != ProtoCHAP && a.Protocol != ProtoPAP && a.Protocol != ProtoEAP {
						return // unknown protocols keep trailing data we do not re-encode
					} else if !bytes.Equal(enc, o.Raw) {
						t.Fatalf("auth proto %x re-encoded %x", o.Raw, enc)
					}
				}
			}
		})
		if p, err := ParsePacket(b); err == nil {
			ParseMagicData(p.Data)
			ParseProtocolReject(p.Data)
			ParseCodeReject(p.Data)
		}
	})
}

func FuzzIPCP(f *testing.F) {
	seed(f, "01010016030600000000810600000000830600000000", "0301000a0306c6130005", "0401000a02061c0f0100")
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzOptions(t, b, func(o Option) {
			switch o.Type {
			case IPCPOptAddress, IPCPOptPrimaryDNS, IPCPOptSecondaryDNS, IPCPOptPrimaryNBNS, IPCPOptSecondaryNBNS:
				if a, err := OptionAddr(o.Value); err == nil {
					if enc := AppendOptionAddr(nil, o.Type, a); !bytes.Equal(enc, o.Raw) {
						t.Fatalf("address %x re-encoded %x", o.Raw, enc)
					}
				}
			}
		})
	})
}

func FuzzIPv6CP(f *testing.F) {
	seed(f, "0101000e010a0211223344556677", "0301000e010a0000000000000000")
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzOptions(t, b, func(o Option) {
			if o.Type == IPv6CPOptInterfaceID {
				if id, err := OptionInterfaceID(o.Value); err == nil {
					if enc := AppendOptionInterfaceID(nil, id); !bytes.Equal(enc, o.Raw) {
						t.Fatalf("interface id %x re-encoded %x", o.Raw, enc)
					}
				}
			}
		})
	})
}

func FuzzPAP(f *testing.F) {
	seed(f, "07016c61627573657207016c616270617373", "026f6b", "", "0500")
	f.Fuzz(func(t *testing.T, data []byte) {
		if id, pw, err := ParsePAPRequest(data); err == nil {
			enc := AppendPAPRequest(nil, id, pw)
			if !bytes.HasPrefix(data, enc) {
				t.Fatalf("request re-encoded %x from %x", enc, data)
			}
		}
		if m, err := ParsePAPMessage(data); err == nil && len(data) > 0 {
			if enc := AppendPAPMessage(nil, m); !bytes.HasPrefix(data, enc) {
				t.Fatalf("message re-encoded %x from %x", enc, data)
			}
		}
	})
}

func FuzzCHAP(f *testing.F) {
	seed(f, "0101001510"+"00112233445566778899aabbccddeeff"+"4c4e53", "03010004", "040100"+"0d"+hex.EncodeToString([]byte("E=691 R=0 V=3")))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePacket(b)
		if err != nil {
			return
		}
		switch p.Code {
		case CHAPChallenge, CHAPResponse:
			v, name, err := ParseCHAPValue(p.Data)
			if err != nil {
				return
			}
			if enc := AppendCHAPValue(nil, v, name); !bytes.Equal(enc, p.Data) {
				t.Fatalf("value re-encoded %x from %x", enc, p.Data)
			}
			if r, err := ParseMSCHAPv2Response(v); err == nil && !bytes.Equal(r.Append(nil), v) {
				t.Fatal("v2 response round trip")
			}
			if r, err := ParseMSCHAPv1Response(v); err == nil && !bytes.Equal(r.Append(nil), v) {
				t.Fatal("v1 response round trip")
			}
		case CHAPSuccess:
			ParseMSCHAPv2Success(string(p.Data))
		case CHAPFailure:
			fl, err := ParseMSCHAPFailure(string(p.Data))
			if err != nil {
				return
			}
			again, err := ParseMSCHAPFailure(fl.String())
			if err != nil || again.Error != fl.Error || again.Retry != fl.Retry || !bytes.Equal(again.Challenge, fl.Challenge) || again.Version != fl.Version {
				t.Fatalf("failure %q -> %q -> %+v %v", p.Data, fl.String(), again, err)
			}
		}
	})
}

func FuzzEAP(f *testing.F) {
	seed(f, "0101000501", "0201000a016c61627573", "010200090402abcd58", "0202000603 04", "03020004")
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseEAP(b)
		if err != nil {
			return
		}
		n := PacketHeaderLen
		if p.Code == EAPRequest || p.Code == EAPResponse {
			n += 1 + len(p.Data)
			if p.Type == EAPTypeMD5 {
				ParseCHAPValue(p.Data)
			}
			if p.Type == EAPTypeMSCHAPv2 {
				fuzzEAPMSCHAPv2(t, p.Data)
			}
		}
		enc := AppendEAP(nil, p.Code, p.ID, p.Type, p.Data)
		if p.Code == EAPRequest || p.Code == EAPResponse || p.Code == EAPSuccess || p.Code == EAPFailure {
			if p.Code <= EAPResponse && !bytes.Equal(enc, b[:n]) {
				t.Fatalf("re-encoded %x from %x", enc, b)
			}
		}
	})
}

func FuzzEAPMSCHAPv2(f *testing.F) {
	seed(f, "01070015100102030405060708090a0b0c0d0e0f10", "02070043"+"31"+strings.Repeat("00", 49)+"6c6162", "03070006533d", "03", "04")
	f.Fuzz(fuzzEAPMSCHAPv2)
}

// fuzzEAPMSCHAPv2 parses b and checks that what parses encodes back to
// the octets MS-Length covers.
func fuzzEAPMSCHAPv2(t *testing.T, b []byte) {
	m, err := ParseEAPMSCHAPv2(b)
	if err != nil {
		return
	}
	enc := AppendEAPMSCHAPv2(nil, m)
	if len(b) == 1 {
		if !bytes.Equal(enc, b) {
			t.Fatalf("re-encoded %x from %x", enc, b)
		}
		return
	}
	// The value's name or the message runs to the end of MS-Length.
	if n := int(binary.BigEndian.Uint16(b[2:4])); !bytes.Equal(enc, b[:n]) {
		t.Fatalf("re-encoded %x from %x", enc, b)
	}
}
