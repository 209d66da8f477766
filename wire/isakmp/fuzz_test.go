package isakmp

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixtures returns the captured messages of testdata and the encoder's
// own.
func fixtures(t testing.TB) [][]byte {
	files, _ := filepath.Glob("testdata/*.hex")
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, unhex(t, string(b)))
	}
	if len(out) != 7 {
		t.Fatalf("%d fixtures", len(out))
	}
	return append(out, unhex(t, fixMM1))
}

// TestFixtures decodes every payload of the captured ike-scan messages.
func TestFixtures(t *testing.T) {
	for i, m := range fixtures(t) {
		h, err := ParseHeader(m)
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		d := NewPayloadDecoder(h.NextPayload, h.Body(m))
		var types []string
		for d.Next() {
			p := d.Payload()
			types = append(types, p.Type.String())
			var err error
			switch p.Type {
			case PayloadSA:
				err = walkSA(p.Body)
			case PayloadID:
				_, err = ParseID(p.Body)
			}
			if err != nil {
				t.Errorf("%d: %s: %v", i, p.Type, err)
			}
		}
		if d.Err() != nil || len(d.Rest()) != 0 {
			t.Errorf("%d: %v", i, d.Err())
		}
		t.Logf("%v %s", h.Exchange, strings.Join(types, ","))
		if h.Exchange == ExchangeAggressive && !strings.HasPrefix(strings.Join(types, ","), "SA,KE,NONCE,ID") {
			t.Errorf("aggressive mode payloads %v", types)
		}
	}
}

func seeds(f *testing.F) {
	for _, m := range fixtures(f) {
		f.Add(m)
	}
	f.Add([]byte{})
}

// FuzzMessage: a message whose header and payload chain decode
// re-encodes, through the Encoder, to the same octets (less padding).
func FuzzMessage(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader(b)
		if err != nil {
			return
		}
		d := NewPayloadDecoder(h.NextPayload, h.Body(b))
		h2 := h
		e := NewEncoder(nil, h2)
		for d.Next() {
			p := d.Payload()
			e.Raw(p.Type, p.Body)
			if !bytes.Equal(p.Raw[GenericHeaderLen:], p.Body) {
				t.Fatal("body not inside raw")
			}
		}
		if d.Err() != nil {
			return
		}
		out, err := e.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		want := b[:int(h.Length)-len(d.Rest())]
		if !bytes.Equal(out[HeaderLen:], want[HeaderLen:]) || !bytes.Equal(out[:16], want[:16]) || out[16] != want[16] {
			t.Fatalf("round trip\n got %x\nwant %x", out, want)
		}
	})
}

// FuzzSA: an SA body that decodes entirely re-encodes through AppendSA
// to an SA that decodes to the same proposals, transforms and attributes.
func FuzzSA(f *testing.F) {
	for _, m := range fixtures(f) {
		h, _ := ParseHeader(m)
		d := NewPayloadDecoder(h.NextPayload, h.Body(m))
		if d.Next() {
			f.Add(d.Payload().Body)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		specs, ok := saSpecs(b)
		if !ok {
			return
		}
		again, ok := saSpecs(AppendSA(nil, specs))
		if !ok {
			t.Fatal("re-encoded SA does not decode")
		}
		if len(again) != len(specs) {
			t.Fatal("proposals differ")
		}
		for i := range specs {
			x, y := specs[i], again[i]
			if x.Num != y.Num || x.Protocol != y.Protocol || !bytes.Equal(x.SPI, y.SPI) || len(x.Transforms) != len(y.Transforms) {
				t.Fatalf("proposal %d: %+v vs %+v", i, x, y)
			}
			for j := range x.Transforms {
				tx, ty := x.Transforms[j], y.Transforms[j]
				if tx.Num != ty.Num || tx.ID != ty.ID || len(tx.Attrs) != len(ty.Attrs) {
					t.Fatalf("transform %d/%d", i, j)
				}
				for k := range tx.Attrs {
					ax, ay := tx.Attrs[k], ty.Attrs[k]
					if ax.Type != ay.Type || ax.Basic != ay.Basic || ax.Value != ay.Value || !bytes.Equal(ax.Data, ay.Data) {
						t.Fatalf("attribute %+v vs %+v", ax, ay)
					}
				}
			}
		}
	})
}

func saSpecs(b []byte) ([]ProposalSpec, bool) {
	s, err := ParseSA(b)
	if err != nil {
		return nil, false
	}
	var out []ProposalSpec
	pd := NewProposalDecoder(s.Proposals)
	for pd.Next() {
		p := pd.Proposal()
		ps := ProposalSpec{Num: p.Num, Protocol: p.Protocol, SPI: p.SPI}
		td := NewTransformDecoder(p)
		for td.Next() {
			tr := td.Transform()
			ts := TransformSpec{Num: tr.Num, ID: tr.ID}
			ad := NewAttrDecoder(tr.Attrs)
			for ad.Next() {
				a := ad.Attr()
				if a.Type&0x8000 != 0 {
					return nil, false
				}
				ts.Attrs = append(ts.Attrs, a)
			}
			if ad.Err() != nil {
				return nil, false
			}
			ps.Transforms = append(ps.Transforms, ts)
		}
		if td.Err() != nil {
			return nil, false
		}
		out = append(out, ps)
	}
	return out, pd.Err() == nil && len(out) > 0
}

// FuzzPayloadBodies: ID, Notification, Delete, CERT and the attribute
// payload parse without panics and round-trip through their encoders.
func FuzzPayloadBodies(f *testing.F) {
	f.Add([]byte{1, 17, 1, 244, 198, 18, 0, 1})
	f.Add([]byte{4, 0, 0, 0, 198, 19, 1, 0, 255, 255, 255, 0})
	f.Add([]byte{0, 0, 0, 1, 1, 16, 0x8d, 0x28, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0, 0, 0, 1})
	f.Add([]byte{0, 0, 0, 1, 3, 4, 0, 1, 1, 2, 3, 4})
	f.Add([]byte{2, 0, 0, 7, 0x80, 1, 0, 5, 0, 1, 0, 4, 198, 19, 0, 9})
	f.Fuzz(func(t *testing.T, b []byte) {
		if id, err := ParseID(b); err == nil {
			if !bytes.Equal(AppendID(nil, id), b) {
				t.Fatal("ID round trip")
			}
			_, _ = id.Prefix()
			_, _, _ = id.Range()
		}
		if n, err := ParseNotification(b); err == nil {
			if !bytes.Equal(AppendNotification(nil, n), b) {
				t.Fatal("notification round trip")
			}
		}
		if d, err := ParseDelete(b); err == nil {
			var spis [][]byte
			for i := range int(d.NumSPIs) {
				spis = append(spis, d.SPI(i))
			}
			out := AppendDelete(nil, d.Protocol, spis...)
			if d.DOI == DOIIPsec && !bytes.Equal(out, b) {
				t.Fatal("delete round trip")
			}
		}
		if c, err := ParseCert(b); err == nil && !bytes.Equal(AppendCert(nil, c), b) {
			t.Fatal("cert round trip")
		}
		if c, err := ParseCfgAttrs(b); err == nil {
			var attrs []Attr
			d := NewAttrDecoder(c.Attrs)
			for d.Next() {
				attrs = append(attrs, d.Attr())
			}
			out := AppendCfgAttrs(nil, c.Type, c.Identifier, attrs...)
			if !bytes.Equal(out[4:], b[4:]) || out[0] != b[0] {
				t.Fatal("attribute payload round trip")
			}
		}
	})
}
