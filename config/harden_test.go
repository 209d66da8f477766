package config

import (
	"strings"
	"testing"
)

// TestAuthLimits: ppp max-bad-auth on a Virtual-Template and the local
// lockout parse, print and refuse what is out of range.
func TestAuthLimits(t *testing.T) {
	res, err := Parse("limits", "aaa local authentication attempts max-fail 5\n"+base+"interface Virtual-Template1\n ppp max-bad-auth 3\n")
	if err != nil {
		t.Fatal(err)
	}
	c := res.Config
	if c.AAA.LocalMaxFail != 5 || c.Interface(IfName{Kind: IfVirtualTemplate, Number: "1"}).MaxBadAuth != 3 {
		t.Fatalf("max-fail %d, max-bad-auth %d", c.AAA.LocalMaxFail, c.Interface(IfName{Kind: IfVirtualTemplate, Number: "1"}).MaxBadAuth)
	}
	checkFixedPoint(t, c)
	res, err = Parse("limits", "aaa local authentication attempts max-fail 5\nno aaa local authentication attempts max-fail\n"+base+
		"interface Virtual-Template1\n ppp max-bad-auth 3\n no ppp max-bad-auth\n")
	if err != nil {
		t.Fatal(err)
	}
	if res.Config.AAA.LocalMaxFail != 0 || res.Config.Interface(IfName{Kind: IfVirtualTemplate, Number: "1"}).MaxBadAuth != 0 {
		t.Fatal("no forms")
	}
	for _, bad := range []string{
		"aaa local authentication attempts max-fail 0\n",
		"aaa local authentication attempts max-fail 65536\n",
		"aaa local authentication attempts max-fail\n",
		base + "interface Virtual-Template1\n ppp max-bad-auth 0\n",
		base + "interface Virtual-Template1\n ppp max-bad-auth 256\n",
		base + "interface Virtual-Template1\n ppp max-bad-auth x\n",
	} {
		if _, err := Parse("bad", bad); err == nil {
			t.Errorf("accepted %q", strings.TrimSpace(bad))
		}
	}
}
