package main

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/vpdn/vpdn/config"
)

// TestDialIPsecConfig: the configuration vpdn dial --ipsec-psk generates
// parses without a warning, puts L2TP on port 1701 of the address that
// reaches the server, and protects udp 1701 between the two in transport
// mode with the server as the only peer.
func TestDialIPsecConfig(t *testing.T) {
	srv, local := netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("198.18.11.2")
	var b strings.Builder
	writeL2TPDial(&b, "vpdn-client", "", srv, "u", "p", "", nil, nil, 1)
	writeIPsecDial(&b, srv, local, "s3cret")
	res, err := config.Parse("dial", b.String())
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if len(res.Warnings) != 0 {
		t.Errorf("warnings %v\n%s", res.Warnings, b.String())
	}
	c := res.Config
	if c.VPDN.L2TPListen != "198.18.11.2:1701" {
		t.Errorf("l2tp listen %q", c.VPDN.L2TPListen)
	}
	for _, want := range []string{"permit udp host 198.18.11.2 eq 1701 host 198.18.0.2 eq 1701", "set peer 198.18.0.2", "crypto isakmp key s3cret address 198.18.0.2", " mode transport"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("generated configuration lacks %q", want)
		}
	}
	if n := len(c.Crypto.MapEntries("L2TP-IPSEC", false)); n != 1 {
		t.Errorf("%d crypto map entries", n)
	}
}

// TestDialIPsecUsage: --ipsec-psk is for L2TP, and without spaces.
func TestDialIPsecUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--server", "198.18.0.2", "--user", "u", "--password", "p", "--protocol", "pptp", "--ipsec-psk", "k"},
		{"--server", "198.18.0.2", "--user", "u", "--password", "p", "--ipsec-psk", "a b"},
	} {
		if code := runDial(args); code != 2 {
			t.Errorf("vpdn dial %v: exit %d, want 2", args, code)
		}
	}
}
