package isakmp

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVendorIDs: the VIDs defined as MD5 of a string are that hash.
func TestVendorIDs(t *testing.T) {
	sum := func(s string) []byte { h := md5.Sum([]byte(s)); return h[:] }
	cases := []struct {
		vid  []byte
		want []byte
		hex  string
	}{
		{VIDNATTRFC3947, sum("RFC 3947"), "4a131c81070358455c5728f20e95452f"},
		{VIDNATTDraft02, sum("draft-ietf-ipsec-nat-t-ike-02"), "cd60464335df21f87cfdb2fc68b6a448"},
		{VIDNATTDraft02N, sum("draft-ietf-ipsec-nat-t-ike-02\n"), "90cb80913ebb696e086381b5ec427b1f"},
		{VIDNATTDraft03, sum("draft-ietf-ipsec-nat-t-ike-03"), "7d9419a65310ca6f2c179d9215529d56"},
		{VIDXAuth, sum("draft-ietf-ipsra-isakmp-xauth-06.txt")[:8], "09002689dfd6b712"},
		{VIDCiscoUnity, append(sum("CISCO-UNITY")[:14], 1, 0), "12f5f28c457168a9702d9fe274cc0100"},
		{VIDCiscoFragmentation, sum("FRAGMENTATION"), "4048b7d56ebce88525e7de7f00d6c2d3"},
		{VIDDPD, nil, "afcad71368a1f1c96b8696fc77570100"},
	}
	for _, c := range cases {
		if c.want != nil && !bytes.Equal(c.vid, c.want) {
			t.Errorf("%s: %x is not the hash %x", VendorName(c.vid), c.vid, c.want)
		}
		if !bytes.Equal(c.vid, unhex(t, c.hex)) {
			t.Errorf("%s: %x, known as %s", VendorName(c.vid), c.vid, c.hex)
		}
		if VendorName(c.vid) == "" {
			t.Errorf("%x has no name", c.vid)
		}
	}
	if VendorName(append(bytes.Clone(VIDCiscoFragmentation), 0x80, 0, 0, 0)) != "Cisco FRAGMENTATION" || VendorName([]byte{1, 2}) != "" {
		t.Error("prefix naming")
	}
}

// buildMM1 is a main mode first message as IOS sends it: one proposal,
// two transforms, DPD and NAT-T VIDs.
func buildMM1(t testing.TB) []byte {
	e := NewEncoder(nil, Header{ICookie: Cookie{1, 2, 3, 4, 5, 6, 7, 8}, Exchange: ExchangeMain})
	e.Raw(PayloadSA, AppendSA(nil, []ProposalSpec{{Num: 1, Protocol: ProtoISAKMP, Transforms: []TransformSpec{
		{Num: 1, ID: TransformKeyIKE, Attrs: []Attr{BasicAttr(AttrEncryption, EncAES), BasicAttr(AttrKeyLength, 256), BasicAttr(AttrHash, HashSHA1),
			BasicAttr(AttrAuthMethod, AuthPSK), BasicAttr(AttrGroupDesc, 14), BasicAttr(AttrLifeType, LifeSeconds), UintAttr(AttrLifeDur, 86400)}},
		{Num: 2, ID: TransformKeyIKE, Attrs: []Attr{BasicAttr(AttrEncryption, Enc3DES), BasicAttr(AttrHash, HashMD5),
			BasicAttr(AttrAuthMethod, AuthPSK), BasicAttr(AttrGroupDesc, 2)}},
	}}}))
	e.Raw(PayloadVendorID, VIDDPD)
	e.Raw(PayloadVendorID, VIDNATTRFC3947)
	m, err := e.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// fixMM1 is buildMM1's output written out by hand from RFC 2408 §3 (and
// checked with tshark's ISAKMP dissector, which finds it well-formed).
const fixMM1 = `
0102030405060708 0000000000000000 01 10 02 00 00000000 00000098
0d 00 0054 00000001 00000001
  00 00 0048 01 01 00 02
    03 00 0028 01 01 0000 80010007 800e0100 80020002 80030001 8004000e 800b0001 000c0004 00015180
    00 00 0018 02 01 0000 80010005 80020001 80030001 80040002
0d 00 0014 afcad71368a1f1c96b8696fc77570100
00 00 0014 4a131c81070358455c5728f20e95452f`

func TestEncodeFixture(t *testing.T) {
	want := unhex(t, fixMM1)
	got := buildMM1(t)
	if !bytes.Equal(got, want) {
		t.Fatalf("MM1\n got %x\nwant %x", got, want)
	}
}

// TestDecodeMM1 walks the whole chain of the fixture.
func TestDecodeMM1(t *testing.T) {
	m := buildMM1(t)
	h, err := ParseHeader(m)
	if err != nil {
		t.Fatal(err)
	}
	if h.Exchange != ExchangeMain || h.Length != uint32(len(m)) || h.NextPayload != PayloadSA || h.Version != Version {
		t.Fatalf("header %+v", h)
	}
	d := NewPayloadDecoder(h.NextPayload, h.Body(m))
	var types []PayloadType
	var sa []byte
	for d.Next() {
		p := d.Payload()
		types = append(types, p.Type)
		if p.Type == PayloadSA {
			sa = p.Body
		}
	}
	if d.Err() != nil || len(types) != 3 || len(d.Rest()) != 0 {
		t.Fatalf("%v %v", types, d.Err())
	}
	s, err := ParseSA(sa)
	if err != nil {
		t.Fatal(err)
	}
	pd := NewProposalDecoder(s.Proposals)
	if !pd.Next() {
		t.Fatal(pd.Err())
	}
	p := pd.Proposal()
	if p.Protocol != ProtoISAKMP || p.NumTransforms != 2 || len(p.SPI) != 0 {
		t.Fatalf("%+v", p)
	}
	td := NewTransformDecoder(p)
	var attrs []Attr
	n := 0
	for td.Next() {
		n++
		ad := NewAttrDecoder(td.Transform().Attrs)
		for ad.Next() {
			attrs = append(attrs, ad.Attr())
		}
		if ad.Err() != nil {
			t.Fatal(ad.Err())
		}
	}
	if td.Err() != nil || n != 2 || pd.Next() || pd.Err() != nil {
		t.Fatalf("%d transforms: %v %v", n, td.Err(), pd.Err())
	}
	if v, _ := attrs[6].Uint(); attrs[6].Type != AttrLifeDur || attrs[6].Basic || v != 86400 {
		t.Errorf("life duration %+v", attrs[6])
	}
}

func TestHeaderErrors(t *testing.T) {
	good := buildMM1(t)
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"27 octets", good[:27], ErrShort},
		{"IKEv2", func() []byte { b := bytes.Clone(good); b[17] = 0x20; return b }(), ErrVersion},
		{"length below header", func() []byte { b := bytes.Clone(good); b[27] = 20; return b }(), ErrLength},
		{"length beyond buffer", good[:len(good)-1], ErrLength},
		{"huge length", func() []byte { b := bytes.Clone(good); b[24] = 1; return b }(), ErrLength},
	}
	for _, c := range cases {
		if _, err := ParseHeader(c.b); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// Minor version 1 is accepted (RFC 2408 §3.1 lets a receiver take a
	// newer minor).
	b := bytes.Clone(good)
	b[17] = 0x11
	if _, err := ParseHeader(b); err != nil {
		t.Error(err)
	}
}

func TestPayloadChainErrors(t *testing.T) {
	cases := []struct {
		name  string
		first PayloadType
		b     string
		want  error
	}{
		{"short header", PayloadSA, "0000", ErrPayloadLength},
		{"length 3", PayloadSA, "00000003", ErrPayloadLength},
		{"length beyond", PayloadSA, "00000010 00000000", ErrPayloadLength},
		{"reserved set", PayloadKE, "00010004", ErrReserved},
		{"chain runs out", PayloadKE, "0a000004", ErrPayloadLength},
	}
	for _, c := range cases {
		d := NewPayloadDecoder(c.first, unhex(t, c.b))
		for d.Next() {
		}
		if !errors.Is(d.Err(), c.want) {
			t.Errorf("%s: %v, want %v", c.name, d.Err(), c.want)
		}
	}
	// A loop of empty payloads is bounded.
	loop := bytes.Repeat(unhex(t, "0d000004"), MaxPayloads+1)
	d := NewPayloadDecoder(PayloadVendorID, loop)
	for d.Next() {
	}
	if !errors.Is(d.Err(), ErrTooMany) {
		t.Errorf("loop: %v", d.Err())
	}
	// Padding after the last payload is left in Rest.
	d = NewPayloadDecoder(PayloadHash, unhex(t, "00000008 01020304 000000"))
	if !d.Next() || d.Next() || d.Err() != nil || len(d.Rest()) != 3 {
		t.Errorf("padding: %v %d", d.Err(), len(d.Rest()))
	}
}

func TestSAErrors(t *testing.T) {
	cases := []struct {
		name string
		b    string
	}{
		{"short", "000000010000"},
		{"DOI 0", "00000000 00000001"},
		{"secrecy situation", "00000001 00000002"},
		{"not a proposal", "00000001 00000001 00000008 01010000"},
		{"no transforms", "00000001 00000001 00000008 01010000"},
		{"SPI beyond", "00000001 00000001 0000000c 010108 01 00000000"},
		{"count too high", "00000001 00000001 00000014 01010002 0000000c 01010000 80010005"},
		{"count too low", "00000001 00000001 0000001c 01010001 0300000c 01010000 80010005 0000000c 02010000 80010007"},
		{"transform reserved", "00000001 00000001 00000014 01010001 0000000c 01010100 80010005"},
		{"attr beyond", "00000001 00000001 00000014 01010001 0000000c 01010000 000c0008"},
		{"trailing after proposal", "00000001 00000001 00000014 01010001 0000000c 01010000 80010005 ff"},
	}
	for _, c := range cases {
		if err := walkSA(unhex(t, c.b)); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
	// The same structure done right.
	if err := walkSA(unhex(t, "00000001 00000001 00000014 01010001 0000000c 01010000 80010005")); err != nil {
		t.Errorf("good SA: %v", err)
	}
}

// walkSA decodes everything in an SA body.
func walkSA(b []byte) error {
	s, err := ParseSA(b)
	if err != nil {
		return err
	}
	pd := NewProposalDecoder(s.Proposals)
	for pd.Next() {
		td := NewTransformDecoder(pd.Proposal())
		for td.Next() {
			ad := NewAttrDecoder(td.Transform().Attrs)
			for ad.Next() {
			}
			if ad.Err() != nil {
				return ad.Err()
			}
		}
		if td.Err() != nil {
			return td.Err()
		}
	}
	return pd.Err()
}

func TestIDs(t *testing.T) {
	good := []struct {
		name string
		id   ID
		pfx  string
	}{
		{"v4 addr", IDAddr(netip.MustParseAddr("198.18.0.1"), 17, 500), "198.18.0.1/32"},
		{"v6 addr", IDAddr(netip.MustParseAddr("2001:db8::1"), 0, 0), "2001:db8::1/128"},
		{"v4 subnet", IDSubnet(netip.MustParsePrefix("198.19.1.0/24"), 0, 0), "198.19.1.0/24"},
		{"v4 any", IDSubnet(netip.MustParsePrefix("0.0.0.0/0"), 0, 0), "0.0.0.0/0"},
		{"v6 subnet", IDSubnet(netip.MustParsePrefix("2001:db8:1::/52"), 6, 80), "2001:db8:1::/52"},
	}
	for _, c := range good {
		b := AppendID(nil, c.id)
		id, err := ParseID(b)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		p, err := id.Prefix()
		if err != nil || p.String() != c.pfx || id.Protocol != c.id.Protocol || id.Port != c.id.Port {
			t.Errorf("%s: %v %v %+v", c.name, p, err, id)
		}
	}
	if id, err := ParseID(unhex(t, "07000000 c6120001 c61200ff")); err != nil {
		t.Error(err)
	} else if f, l, err := id.Range(); err != nil || f.String() != "198.18.0.1" || l.String() != "198.18.0.255" {
		t.Errorf("range %v %v %v", f, l, err)
	}
	for _, s := range []string{"02110000 766f706e2e6578616d706c65", "03000000 61406200", "0b000000 6b6579"} {
		if _, err := ParseID(unhex(t, s)); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	bad := []struct{ name, b string }{
		{"short", "010000"},
		{"v4 addr of 3", "01000000 c61200"},
		{"v4 subnet of 4", "04000000 c6120000"},
		{"mask not contiguous", "04000000 c6120000 ff00ff00"},
		{"v6 of 4", "05000000 c6120000"},
		{"empty fqdn", "02000000"},
		{"type 0", "00000000 01020304"},
		{"type 12", "0c000000 01020304"},
	}
	for _, c := range bad {
		if _, err := ParseID(unhex(t, c.b)); err == nil {
			t.Errorf("%s accepted", c.name)
		}
	}
}

func TestNotifyDeleteCertCfg(t *testing.T) {
	n := Notification{DOI: DOIIPsec, Protocol: ProtoISAKMP, Type: NotifyRUThere, SPI: bytes.Repeat([]byte{7}, 16), Data: []byte{0, 0, 0, 42}}
	got, err := ParseNotification(AppendNotification(nil, n))
	if err != nil || got.Type != n.Type || !bytes.Equal(got.SPI, n.SPI) || !bytes.Equal(got.Data, n.Data) || got.Protocol != ProtoISAKMP {
		t.Errorf("notify %+v %v", got, err)
	}
	if NotifyNoProposalChosen.String() != "PROPOSAL_NOT_CHOSEN" || NotifyRUThereAck.String() != "R_U_THERE_ACK" || NotifyType(999).String() != "NOTIFY(999)" {
		t.Error("names")
	}
	if !NotifyPayloadMalformed.IsError() || NotifyInitialContact.IsError() {
		t.Error("IsError")
	}
	for _, b := range []string{"000000010100", "00000001 0110 000e 0102"} {
		if _, err := ParseNotification(unhex(t, b)); err == nil {
			t.Errorf("notify %s accepted", b)
		}
	}
	dl, err := ParseDelete(AppendDelete(nil, ProtoESP, []byte{1, 2, 3, 4}, []byte{5, 6, 7, 8}))
	if err != nil || dl.NumSPIs != 2 || !bytes.Equal(dl.SPI(1), []byte{5, 6, 7, 8}) {
		t.Errorf("delete %+v %v", dl, err)
	}
	for _, b := range []string{"00000001 0304", "00000001 03040002 01020304", "00000001 03000001", "00000001 03040000"} {
		if _, err := ParseDelete(unhex(t, b)); err == nil {
			t.Errorf("delete %s accepted", b)
		}
	}
	c, err := ParseCert(AppendCert(nil, Cert{Encoding: CertX509Sig, Data: []byte{0x30, 0}}))
	if err != nil || c.Encoding != CertX509Sig || len(c.Data) != 2 {
		t.Errorf("cert %+v %v", c, err)
	}
	if _, err := ParseCert(nil); err == nil {
		t.Error("empty cert accepted")
	}
	cfg := AppendCfgAttrs(nil, CfgReply, 7, BasicAttr(XAuthStatus, 1), VarAttr(CfgInternalIP4Address, []byte{198, 19, 0, 5}),
		VarAttr(UnitySplitInclude, make([]byte, 14)))
	ca, err := ParseCfgAttrs(cfg)
	if err != nil || ca.Type != CfgReply || ca.Identifier != 7 || ca.Type.String() != "ISAKMP_CFG_REPLY" {
		t.Errorf("cfg %+v %v", ca, err)
	}
	for _, b := range []string{"0100", "05000000", "01000000 00010008 0000"} {
		if _, err := ParseCfgAttrs(unhex(t, b)); err == nil {
			t.Errorf("cfg %s accepted", b)
		}
	}
}

func TestAttrs(t *testing.T) {
	for _, v := range []uint64{0, 1, 0xffff, 0x10000, 4608000, 0xffffffff, 1 << 40} {
		a := UintAttr(AttrLifeDur, v)
		d := NewAttrDecoder(AppendAttr(nil, a))
		if !d.Next() {
			t.Fatal(d.Err())
		}
		if got, ok := d.Attr().Uint(); !ok || got != v || d.Attr().Type != AttrLifeDur {
			t.Errorf("%d: %d %v", v, got, ok)
		}
	}
	if _, ok := VarAttr(1, make([]byte, 9)).Uint(); ok {
		t.Error("9-octet value as a number")
	}
	d := NewAttrDecoder(bytes.Repeat([]byte{0x80, 1, 0, 1}, MaxPayloads+1))
	for d.Next() {
	}
	if !errors.Is(d.Err(), ErrTooMany) {
		t.Errorf("attribute bound: %v", d.Err())
	}
}

func TestEncoderSetsChainAndLength(t *testing.T) {
	e := NewEncoder([]byte("prefix"), Header{Exchange: ExchangeQuick, MessageID: 9})
	e.Raw(PayloadHash, make([]byte, 20))
	e.Payload(PayloadNonce, func(b []byte) []byte { return append(b, make([]byte, 16)...) })
	m, err := e.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	m = m[6:]
	h, err := ParseHeader(m)
	if err != nil || h.NextPayload != PayloadHash || h.Length != uint32(len(m)) || m[28] != byte(PayloadNonce) || h.MessageID != 9 {
		t.Fatalf("%+v %v %x", h, err, m)
	}
	big := NewEncoder(nil, Header{})
	big.Raw(PayloadVendorID, make([]byte, 70000))
	if _, err := big.Bytes(); err == nil {
		t.Error("oversized payload accepted")
	}
}

func TestNames(t *testing.T) {
	if ExchangeMain.String() != "ID_PROT" || ExchangeQuick.String() != "QUICK_MODE" || ExchangeType(77).String() != "EXCHANGE(77)" {
		t.Error("exchange names")
	}
	if PayloadNATD.String() != "NAT-D" || !PayloadAttr.Known() || PayloadType(99).Known() {
		t.Error("payload names")
	}
	if ESPTransformName(ESPAES) != "ESP_AES" || IDIPv4AddrSubnet.String() != "ID_IPV4_ADDR_SUBNET" || ProtoESP.String() != "PROTO_IPSEC_ESP" {
		t.Error("names")
	}
}
