package show

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// forged is what a hostile peer puts in every string it controls: a
// clear-screen escape, then a newline that starts a line of its own.
const forged = "\x1b[2J\nfake line"

func hostile() VPDN {
	v := snapshot()
	for i := range v.Tunnels {
		v.Tunnels[i].RemoteName, v.Tunnels[i].RemoteVendor = "lac"+forged, "vendor"+forged
	}
	for i := range v.Sessions {
		s := &v.Sessions[i]
		s.RemoteName, s.User, s.CallingNumber, s.CalledNumber = "lac"+forged, "mallory"+forged, "555"+forged, "666\r"+forged
	}
	return v
}

// checkText fails if a rendering carries a control character or a line
// the peer wrote.
func checkText(t *testing.T, name, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Errorf("%s: not UTF-8", name)
	}
	for _, r := range out {
		if r != '\n' && (r < 0x20 || r == 0x7f) {
			t.Errorf("%s: control character %U in:\n%q", name, r, out)
			return
		}
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "fake line") {
			t.Errorf("%s: a forged line:\n%s", name, out)
			return
		}
	}
}

// TestRenderersEscape: every text renderer escapes the strings that came
// from the network; JSON keeps them raw, and valid.
func TestRenderersEscape(t *testing.T) {
	Now = func() time.Time { return t0 }
	defer func() { Now = time.Now }()
	v := hostile()
	for name, f := range map[string]func(*strings.Builder){
		"vpdn":            func(b *strings.Builder) { WriteVPDN(b, v) },
		"vpdn tunnel":     func(b *strings.Builder) { WriteTunnels(b, v, false) },
		"vpdn tunnel all": func(b *strings.Builder) { WriteTunnels(b, v, true) },
		"vpdn session":    func(b *strings.Builder) { WriteSessions(b, v, false) },
		"vpdn session all": func(b *strings.Builder) {
			WriteSessions(b, v, true)
		},
		"l2tun":             func(b *strings.Builder) { WriteL2Tun(b, v) },
		"l2tun tunnel all":  func(b *strings.Builder) { WriteL2TunTunnels(b, v, true) },
		"l2tun session all": func(b *strings.Builder) { WriteL2TunSessions(b, v, true) },
	} {
		var b strings.Builder
		f(&b)
		checkText(t, name, b.String())
		if !strings.Contains(b.String(), `\x1b[2J\nfake`) && !strings.Contains(b.String(), `lac\x1b[2`) {
			t.Errorf("%s: the escaped name is missing:\n%s", name, b.String())
		}
	}
	var b strings.Builder
	WriteSessions(&b, v, true)
	if !strings.Contains(b.String(), `Session username is mallory\x1b[2J\nfake line`) ||
		!strings.Contains(b.String(), `Calling number is 555\x1b[2J\nfake line`) {
		t.Errorf("show vpdn session all:\n%s", b.String())
	}
	us := []User{{Interface: "Vi1", LongName: "Virtual-Access1", Hardware: "Virtual Access interface", Template: "Virtual-Template1",
		User: "mallory" + forged, Service: "PPPoVPDN", Up: true, LocalAddr: "198.19.0.1", PeerAddr: "198.19.1.5", ConnectedAt: t0}}
	for name, f := range map[string]func(*strings.Builder){
		"users":       func(b *strings.Builder) { WriteUsers(b, us) },
		"caller user": func(b *strings.Builder) { WriteCallerUser(b, us) },
		"interface":   func(b *strings.Builder) { WriteInterface(b, us[0]) },
	} {
		var b strings.Builder
		f(&b)
		checkText(t, name, b.String())
	}
	// JSON: raw strings, valid JSON that round-trips.
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var back VPDN
	if err := json.Unmarshal(data, &back); err != nil || back.Sessions[0].User != "mallory"+forged {
		t.Fatalf("JSON: %v %q", err, back.Sessions[0].User)
	}
	// The caller's snapshot is not changed by rendering.
	if v.Sessions[0].User != "mallory"+forged {
		t.Fatal("rendering changed the snapshot")
	}
}
