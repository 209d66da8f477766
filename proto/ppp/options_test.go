package ppp

import (
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"

	"github.com/vpdn/vpdn/aaa"
	wire "github.com/vpdn/vpdn/wire/ppp"
)

func testLink(t *testing.T, cfg Config) *Link {
	t.Helper()
	sp := &syncPost{}
	cfg.Post, cfg.Output, cfg.Clock = sp.post, &capture{}, &manualClock{}
	if cfg.Rand == nil {
		cfg.Rand = &countRand{n: 0x30}
	}
	l, err := NewLink(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// judgeCase is a peer's Configure-Request and the expected answer: the
// Nak and Reject option lists (empty both: Ack).
type judgeCase struct {
	name    string
	req     string
	nak     string
	rej     string
	nakOrig string
}

func runJudge(t *testing.T, ly layer, cases []judgeCase) {
	t.Helper()
	for _, c := range cases {
		var j judgement
		ly.judge(h(t, c.req), &j)
		got := [3]string{hex.EncodeToString(j.nak), hex.EncodeToString(j.rej), hex.EncodeToString(j.nakOrig)}
		want := [3]string{strings.ReplaceAll(c.nak, " ", ""), strings.ReplaceAll(c.rej, " ", ""), strings.ReplaceAll(c.nakOrig, " ", "")}
		if got != want {
			t.Errorf("%s: nak %s rej %s orig %s, want nak %s rej %s orig %s", c.name, got[0], got[1], got[2], want[0], want[1], want[2])
		}
	}
}

func TestLCPJudge(t *testing.T) {
	l := testLink(t, Config{PFC: true, AddressControl: true, Auth: AuthConfig{Hostname: "u", Password: "p", Refuse: []aaa.Method{aaa.MSCHAPv2}}})
	l.lcpo.resetOptions()
	ours := hex.EncodeToString(wire.AppendOptionUint32(nil, wire.LCPOptMagic, l.lcpo.magic))
	runJudge(t, l.lcpo, []judgeCase{
		{name: "plain", req: "010405dc 05060fe5de30"},
		{name: "MRU too small", req: "01040040", nak: "010405dc", nakOrig: "01040040"},
		{name: "MRU bad length", req: "010305", rej: "010305"},
		{name: "ACCM", req: "020600000000"},
		{name: "CHAP accepted", req: "0305c22305"},
		{name: "MS-CHAPv2 refused: Nak with CHAP", req: "0305c22381", nak: "0305c22305", nakOrig: "0305c22381"},
		{name: "unknown CHAP algorithm", req: "0305c22399", nak: "0305c22305", nakOrig: "0305c22399"},
		{name: "PFC accepted, ACFC refused", req: "0702 0802", rej: "0802"},
		{name: "quality, callback, MRRU rejected", req: "0408c0250000000a 0d0306 110405dc", rej: "0408c0250000000a 0d0306 110405dc"},
	})
	// Magic zero, and our own magic coming back (RFC 1661 §6.4): Nak with
	// a different value; ours changes too.
	for _, req := range []string{"050600000000", ours} {
		before := l.lcpo.magic
		var j judgement
		l.lcpo.judge(h(t, req), &j)
		if len(j.nak) != 6 || j.nak[0] != 5 || hex.EncodeToString(j.nakOrig) != req || hex.EncodeToString(j.nak[2:]) == req[4:] || hex.EncodeToString(j.nak[2:]) == "00000000" {
			t.Errorf("%s: Nak %x", req, j.nak)
		}
		if req == ours && l.lcpo.magic == before {
			t.Errorf("our magic did not change on a collision")
		}
	}
	// Without credentials this end cannot be authenticated: Reject.
	l2 := testLink(t, Config{})
	l2.lcpo.resetOptions()
	runJudge(t, l2.lcpo, []judgeCase{{name: "auth without credentials", req: "0304c023", rej: "0304c023"}})
}

func TestIPCPJudgeServer(t *testing.T) {
	l := testLink(t, Config{IPCP: IPCPConfig{
		Local: netip.MustParseAddr("198.19.0.1"), Peer: netip.MustParseAddr("198.19.0.10"),
		DNS:  [2]netip.Addr{netip.MustParseAddr("198.19.0.53")},
		NBNS: [2]netip.Addr{netip.MustParseAddr("198.19.0.137"), netip.MustParseAddr("198.19.0.138")},
	}})
	if !l.ipcpo.prepare() {
		t.Fatal("prepare")
	}
	runJudge(t, l.ipcpo, []judgeCase{
		{name: "right address", req: "0306c613000a"},
		{name: "asks for an address", req: "030600000000", nak: "0306c613000a", nakOrig: "030600000000"},
		{name: "wants another address", req: "0306c6130063", nak: "0306c613000a", nakOrig: "0306c6130063"},
		{name: "no address option: solicit one", req: "", nak: "0306c613000a"},
		{name: "DNS", req: "0306c613000a 810600000000 830600000000", nak: "8106c6130035", rej: "830600000000", nakOrig: "810600000000"},
		{name: "NBNS", req: "0306c613000a 820600000000 8406c613008a", nak: "8206c6130089", nakOrig: "820600000000"},
		{name: "VJ compression rejected", req: "0306c613000a 0206002d0f01", rej: "0206002d0f01"},
		{name: "IP-Addresses rejected", req: "010a0000000000000000 0306c613000a", rej: "010a0000000000000000"},
		{name: "bad address length", req: "0305c61300", rej: "0305c61300", nak: "0306c613000a"},
	})
}

func TestIPCPJudgeClient(t *testing.T) {
	l := testLink(t, Config{IPCP: IPCPConfig{Client: true}})
	runJudge(t, l.ipcpo, []judgeCase{
		{name: "server address", req: "0306c6130001"},
		{name: "server without address", req: "030600000000", rej: "030600000000"},
		{name: "server asking us for DNS", req: "810600000000", rej: "810600000000"},
		{name: "no options", req: ""},
	})
	// Nak'd address and DNS are taken; rejects stop the asking.
	l.ipcpo.resetOptions()
	l.ipcpo.wantDNS = [2]bool{true, true}
	l.ipcpo.gotNak(h(t, "0306c613000a 8106c6130035"))
	if l.ipcpo.local != netip.MustParseAddr("198.19.0.10") || l.ipcpo.dns[0] != netip.MustParseAddr("198.19.0.53") {
		t.Fatalf("after Nak: %v %v", l.ipcpo.local, l.ipcpo.dns)
	}
	l.ipcpo.gotReject(h(t, "830600000000"))
	if got := hex.EncodeToString(l.ipcpo.appendRequest(nil)); got != "0306c613000a8106c6130035" {
		t.Fatalf("request after Nak and Reject: %s", got)
	}
}

func TestIPv6CPJudge(t *testing.T) {
	l := testLink(t, Config{IPv6CP: IPv6CPConfig{Enabled: true, InterfaceID: wire.InterfaceID{2, 0, 0, 0, 0, 0, 0, 1}}})
	l.ipv6cpo.resetOptions()
	var j judgement
	l.ipv6cpo.judge(h(t, "010a0200000000000002"), &j)
	if len(j.nak)+len(j.rej) != 0 || l.ipv6cpo.peer != (wire.InterfaceID{2, 0, 0, 0, 0, 0, 0, 2}) {
		t.Fatalf("distinct identifier not acked: %x %x", j.nak, j.rej)
	}
	for _, req := range []string{"010a0000000000000000", "010a0200000000000001"} {
		j = judgement{}
		l.ipv6cpo.judge(h(t, req), &j)
		id, err := wire.OptionInterfaceID(j.nak[2:])
		if err != nil || id.IsZero() || id == l.ipv6cpo.local || hex.EncodeToString(j.nakOrig) != req {
			t.Fatalf("%s: Nak %x", req, j.nak)
		}
	}
	j = judgement{}
	l.ipv6cpo.judge(h(t, "020600000000 010302"), &j)
	if hex.EncodeToString(j.rej) != "020600000000010302" {
		t.Fatalf("compression and bad identifier: rej %x", j.rej)
	}
}
