package interop

import (
	"strings"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/nstest"
	"github.com/vpdn/vpdn/internal/peers"
)

// ezvpnRadiusGroupCfg is ezvpnServerCfg with group VPNGROUP held by the
// FreeRADIUS beside it instead of configured.
var ezvpnRadiusGroupCfg = strings.NewReplacer(
	"aaa authorization network GROUPS local\n",
	"aaa authorization network GROUPS group radius\nradius server FREERADIUS\n address ipv4 127.0.0.1 auth-port 1812 acct-port 1813\n key 0 "+peers.FreeRADIUSSecret+"\n",
	"crypto isakmp client configuration group VPNGROUP\n key 0 groupkey\n pool EZPOOL\n dns 198.19.1.53\n domain example.test\n acl SPLIT\n",
	"",
).Replace(ezvpnServerCfg)

// TestEzVPNServerRadiusGroup: vpdn's Easy VPN server takes group VPNGROUP
// from FreeRADIUS (User-Name VPNGROUP, password cisco; Cisco-AVPairs for
// the key, pool and split ACL); vpdn's Easy VPN remote gets the pool's
// address and the split network and pings through. FreeRADIUS logs the
// group's request.
func TestEzVPNServerRadiusGroup(t *testing.T) {
	peers.Require(t, "freeradius")
	if strings.Contains(ezvpnRadiusGroupCfg, "group VPNGROUP") {
		t.Fatalf("config edit failed:\n%s", ezvpnRadiusGroupCfg)
	}
	lab, hub, rem, devRem := ezLab(t)
	rad := peers.FreeRADIUSSigning(t, lab, hub, peers.User{Name: "VPNGROUP", Password: "cisco", Reply: []string{
		`Cisco-AVPair = "ipsec:key-exchange=ike"`,
		`Cisco-AVPair += "ipsec:tunnel-password=groupkey"`,
		`Cisco-AVPair += "ipsec:addr-pool=EZPOOL"`,
		`Cisco-AVPair += "ipsec:dns-servers=198.19.1.53"`,
		`Cisco-AVPair += "ipsec:split-include=SPLIT"`,
	}})
	bin := nstest.GoBuild(t, "../cmd/vpdn")
	_, hubSock, stopHub := vpdnServe(t, lab, hub, bin, ezvpnRadiusGroupCfg)
	defer stopHub()
	_, remSock, stopRem := vpdnServe(t, lab, rem, bin, ezRemoteCfg(devRem, vpdnAddr.String(), "s3cret", "client", ""))
	defer stopRem()
	showHub, showRem := vpdnCLI(t, hub, bin, hubSock), vpdnCLI(t, rem, bin, remSock)
	waitLine(t, "the remote active", 60*time.Second, func() bool { return readEzState(t, showRem).State == "IPSEC_ACTIVE" })
	st := readEzState(t, showRem)
	if st.Address != "198.19.5.10" || len(st.Split) != 1 || st.Split[0].Address != "198.19.1.0" {
		t.Fatalf("state %+v\nFreeRADIUS log:\n%s", st, rad.Log())
	}
	if out, err := rem.Run(20*time.Second, "ping", "-c", "3", "-i", "0.3", "-W", "2", "198.19.1.1"); err != nil {
		t.Fatalf("ping through the tunnel: %v\n%s", err, out)
	}
	if det := showHub("show", "crypto", "session", "detail"); !strings.Contains(det, "Group: VPNGROUP") || !strings.Contains(det, "Username: alice") {
		t.Errorf("show crypto session detail:\n%s", det)
	}
	if log := rad.Log(); !strings.Contains(log, `User-Name = "VPNGROUP"`) {
		t.Errorf("FreeRADIUS did not log the group's request:\n%s", log)
	}
}
