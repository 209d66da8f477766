package main

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/nstest"
)

func TestParse(t *testing.T) {
	creds := []string{"-user", "u", "-password", "p"}
	for _, tc := range []struct {
		name        string
		args        []string
		err         string
		local, peer string
	}{
		{"pptpd's arguments", append(creds, "--", "local", "file", "/x", "115200", "198.19.5.1:198.19.5.10", "ipparam", "198.18.0.1"), "", "198.19.5.1", "198.19.5.10"},
		{"flags win", append(creds, "-local", "198.19.6.1", "--", "198.19.5.1:198.19.5.10"), "", "198.19.6.1", "198.19.5.10"},
		{"flags only", append(creds, "-local", "198.19.6.1", "-peer", "198.19.6.2"), "", "198.19.6.1", "198.19.6.2"},
		{"client needs no addresses", append(creds, "-role", "client"), "", "", ""},
		{"server without addresses", creds, "needs -local and -peer", "", ""},
		{"not an address pair", append(creds, "--", "a:b", "198.19.5.1:::1"), "needs -local and -peer", "", ""},
		{"bad role", append(creds, "-role", "lac"), `-role "lac"`, "", ""},
		{"no user", []string{"-password", "p", "-local", "198.19.6.1", "-peer", "198.19.6.2"}, "-user and -password", "", ""},
		{"bad local", append(creds, "-local", "::1", "-peer", "198.19.6.2"), `-local "::1"`, "", ""},
		{"bad peer", append(creds, "-local", "198.19.6.1", "-peer", "x"), `-peer "x"`, "", ""},
		{"pty without command", append(creds, "-role", "client", "-pty"), "-pty needs a command", "", ""},
		{"pty command is no address", append(creds, "-pty", "--", "cmd", "198.19.5.1:198.19.5.10"), "needs -local and -peer", "", ""},
		{"unknown flag", append(creds, "-mppe"), "not defined", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parse(tc.args)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.local != "" && (o.local != netip.MustParseAddr(tc.local) || o.peer != netip.MustParseAddr(tc.peer)) {
				t.Errorf("local %s peer %s, want %s %s", o.local, o.peer, tc.local, tc.peer)
			}
		})
	}
	if _, err := methodList("ms-chap-v2,chap,pap"); err != nil {
		t.Error(err)
	}
	if _, err := methodList("eap"); err == nil {
		t.Error("methodList accepted eap")
	}
}

// TestBackToBack runs two stand-ins against each other, as pppd's `pty`
// option would: the client in one namespace runs the server, in another,
// on a pty (ip netns exec). They authenticate with MS-CHAPv2, IPCP puts
// the server's addresses on a TUN at each end, and pings cross.
func TestBackToBack(t *testing.T) {
	lab := nstest.New(t)
	a, b := lab.NS("cli"), lab.NS("srv")
	bin := nstest.GoBuild(t, ".")
	dir := t.TempDir()
	cliLog, srvLog := filepath.Join(dir, "client.log"), filepath.Join(dir, "server.log")
	cmd := a.Command(bin, "-role", "client", "-user", "u1", "-password", "pw1", "-tun", "ppp9", "-log", cliLog, "-max-time", "1m", "-pty", "--",
		"ip", "netns", "exec", b.Name, bin, "-role", "server", "-auth", "ms-chap-v2", "-user", "u1", "-password", "pw1",
		"-local", "198.19.9.1", "-peer", "198.19.9.2", "-tun", "ppp9", "-log", srvLog, "-max-time", "1m")
	if err := lab.Start(cmd); err != nil {
		t.Fatal(err)
	}
	read := func(p string) string { b, _ := os.ReadFile(p); return string(b) }
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(read(cliLog), "IPCP up local 198.19.9.2 peer 198.19.9.1") || !strings.Contains(read(srvLog), "IPCP up local 198.19.9.1 peer 198.19.9.2") {
		if time.Now().After(deadline) {
			t.Fatalf("IPCP did not open\nclient:\n%s\nserver:\n%s", read(cliLog), read(srvLog))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(read(srvLog), `auth MS-CHAP-V2, user "u1"`) {
		t.Errorf("server log:\n%s", read(srvLog))
	}
	if out, err := a.Run(20*time.Second, "ping", "-c", "3", "-W", "2", "198.19.9.1"); err != nil {
		t.Fatalf("ping: %v\n%s", err, out)
	}
}

// FuzzParse: any argument list (split at spaces) is parsed or refused
// with an error, never a panic, and a server parsed has both addresses.
func FuzzParse(f *testing.F) {
	f.Add("-user u -password p -- local file /x 115200 198.19.5.1:198.19.5.10 ipparam 198.18.0.1")
	f.Add("-role client -user u -password p -pty -- pptp 198.18.0.1 --nolaunchpppd")
	f.Add("-user u -password p -local 198.19.6.1 -- :198.19.5.10 198.19.5.1:")
	f.Fuzz(func(t *testing.T, s string) {
		o, err := parse(strings.Fields(s))
		if err != nil {
			return
		}
		if o.role == "server" && (!o.local.Is4() || !o.peer.Is4()) {
			t.Fatalf("server without addresses: %+v", o)
		}
	})
}
