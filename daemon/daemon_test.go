package daemon

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/control"
	"github.com/vpdn/vpdn/internal/debug"
	"github.com/vpdn/vpdn/netif"
	"github.com/vpdn/vpdn/transport/memnet"
)

const good = `hostname lns1
vpdn enable
vpdn-group LNS
 accept-dialin
  protocol l2tp
  virtual-template 1
interface Virtual-Template1
 ip unnumbered Loopback0
interface Loopback0
 ip address 198.19.0.1 255.255.255.255
`

func startDaemon(t *testing.T, cfg string) (*Daemon, string, string) {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "vpdn.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "vpdn.sock")
	// In-memory sockets and interfaces, as the other daemon tests: the
	// kernel's would bind UDP 1701 on the host's wildcard address (taken
	// by any other test or daemon on the machine) and make interfaces in
	// the host's namespace. The control socket is the real one.
	d, err := New(Options{ConfigPath: cfgPath, Socket: sock, Debug: debug.New(), Binds: memnet.New(1), Host: netif.NewFakeHost()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	// Wait for the socket (bounded, generously: a busy machine is slow),
	// or for Run to fail, whose error says why.
	for i := 0; ; i++ {
		if c, err := control.Dial(sock); err == nil {
			c.Close()
			break
		}
		select {
		case err := <-done:
			done <- err // for the cleanup
			t.Fatalf("the daemon stopped before its socket appeared: %v", err)
		default:
		}
		if i > 3000 {
			t.Fatal("daemon socket never appeared")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return d, cfgPath, sock
}

func do(t *testing.T, sock string, req *control.Request) *control.Response {
	t.Helper()
	c, err := control.Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestShowAndReload(t *testing.T) {
	_, cfgPath, sock := startDaemon(t, good)
	r := do(t, sock, &control.Request{Verb: "show", Words: []string{"run"}})
	if !r.OK || !strings.Contains(r.Text, "hostname lns1\n") || !strings.Contains(r.Text, "vpdn-group LNS\n accept-dialin\n") {
		t.Fatalf("show run: %+v", r)
	}
	r = do(t, sock, &control.Request{Verb: "show", Words: []string{"running-config"}, JSON: true})
	if !r.OK || !strings.Contains(string(r.Data), `"hostname":"lns1"`) {
		t.Fatalf("show run --json: %s", r.Data)
	}

	// A good reload takes effect.
	os.WriteFile(cfgPath, []byte(strings.Replace(good, "lns1", "lns2", 1)), 0o644)
	if r := do(t, sock, &control.Request{Verb: "reload"}); !r.OK {
		t.Fatalf("reload: %+v", r)
	}
	if r := do(t, sock, &control.Request{Verb: "show", Words: []string{"run"}}); !strings.Contains(r.Text, "hostname lns2") {
		t.Fatalf("after reload: %s", r.Text)
	}

	// A broken reload is refused with the reason; the old config stays.
	os.WriteFile(cfgPath, []byte(good+"vpdn-grup X\n"), 0o644)
	r = do(t, sock, &control.Request{Verb: "reload"})
	if r.OK || !strings.Contains(r.Error, "stays in force") || !strings.Contains(r.Error, cfgPath+":11: unknown command") {
		t.Fatalf("broken reload: %+v", r)
	}
	if r := do(t, sock, &control.Request{Verb: "show", Words: []string{"run"}}); !strings.Contains(r.Text, "hostname lns2") {
		t.Fatalf("old configuration lost: %s", r.Text)
	}
	if r := do(t, sock, &control.Request{Verb: "show", Words: []string{"version"}}); !strings.Contains(r.Text, "reloaded 1 times (1 refused)") {
		t.Fatalf("show version: %s", r.Text)
	}
}

func TestDebugSwitches(t *testing.T) {
	d, _, sock := startDaemon(t, good)
	if r := do(t, sock, &control.Request{Verb: "debug", Words: []string{"vpdn", "l2x-ev"}}); !r.OK || !strings.Contains(r.Text, "vpdn l2x-events debugging is on") {
		t.Fatalf("debug: %+v", r)
	}
	if !d.opts.Debug.On("vpdn l2x-events") {
		t.Fatal("switch not on")
	}
	if r := do(t, sock, &control.Request{Verb: "show", Words: []string{"debugging"}}); !strings.Contains(r.Text, "vpdn l2x-events debugging is on") {
		t.Fatalf("show debugging: %s", r.Text)
	}
	// debug all / undebug all: every switch, one line as IOS prints it.
	for _, c := range []struct {
		verb, word, want string
		on               bool
	}{
		{"debug", "all", "All possible debugging has been turned on\n", true},
		{"undebug", "all", "All possible debugging has been turned off\n", false},
		{"debug", "ALL", "All possible debugging has been turned on\n", true},
		{"undebug", "All", "All possible debugging has been turned off\n", false},
	} {
		r := do(t, sock, &control.Request{Verb: c.verb, Words: []string{c.word}})
		if !r.OK || r.Text != c.want {
			t.Errorf("%s %s = %+v, want the one line %q", c.verb, c.word, r, c.want)
		}
		for _, n := range d.opts.Debug.Names() {
			if d.opts.Debug.On(n) != c.on {
				t.Errorf("after %s %s: %s is on=%v", c.verb, c.word, n, !c.on)
			}
		}
	}
	// One named switch still answers with its own line.
	if r := do(t, sock, &control.Request{Verb: "undebug", Words: []string{"vpdn", "l2x-ev"}}); !r.OK || r.Text != "vpdn l2x-events debugging is off\n" {
		t.Errorf("undebug vpdn l2x-ev: %+v", r)
	}
	if r := do(t, sock, &control.Request{Verb: "debug", Words: []string{"nonsense"}}); r.OK {
		t.Fatal("unknown switch accepted")
	}
	if r := do(t, sock, &control.Request{Verb: "show", Words: []string{"bogus"}}); r.OK || !strings.Contains(r.Error, "Invalid input") {
		t.Fatalf("show bogus: %+v", r)
	}
}

func TestNewRefusesBrokenConfig(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.cfg")
	os.WriteFile(p, []byte("interface Loopback0\n ip address 198.19.0.1\n"), 0o644)
	_, err := New(Options{ConfigPath: p, Socket: filepath.Join(t.TempDir(), "s")})
	if err == nil || !strings.Contains(err.Error(), p+":2:") {
		t.Fatalf("err = %v", err)
	}
}

func TestAAAAndPools(t *testing.T) {
	cfg := good + `username alice password 0 alicepass
username bob password 7 0822455D0A16
ip local pool P 198.19.1.10 198.19.1.20
ip local pool P 198.19.2.1
`
	d, _, sock := startDaemon(t, cfg)
	r := do(t, sock, &control.Request{Verb: "show", Words: []string{"ip", "local", "pool"}})
	if !r.OK || !strings.Contains(r.Text, "198.19.1.10") || !strings.Contains(r.Text, "198.19.2.1") {
		t.Fatalf("show ip local pool: %+v", r)
	}
	if r := do(t, sock, &control.Request{Verb: "show", Words: []string{"ip", "local", "pool", "nope"}}); r.OK {
		t.Fatal("unknown pool shown")
	}
	auth := d.Authenticator("", "")
	res, err := auth.Authenticate(context.Background(), &aaa.Request{Method: aaa.PAP, Username: "alice", Password: []byte("alicepass")})
	if err != nil || !res.Accept {
		t.Fatalf("alice: %+v %v", res, err)
	}
	// bob's type-7 password decodes to "cisco".
	res, err = auth.Authenticate(context.Background(), &aaa.Request{Method: aaa.PAP, Username: "bob", Password: []byte("cisco")})
	if err != nil || !res.Accept {
		t.Fatalf("bob (type 7): %+v %v", res, err)
	}
	res, _ = auth.Authenticate(context.Background(), &aaa.Request{Method: aaa.PAP, Username: "alice", Password: []byte("wrong"), NASPort: "Vi3"})
	if res.Accept {
		t.Fatal("wrong password accepted")
	}
	r = do(t, sock, &control.Request{Verb: "show", Words: []string{"vpdn", "history", "failure"}})
	if !strings.Contains(r.Text, "User: alice") || !strings.Contains(r.Text, "NAS: Vi3") {
		t.Fatalf("failure history: %s", r.Text)
	}
	do(t, sock, &control.Request{Verb: "clear", Words: []string{"vpdn", "history", "failure"}})
	if r := do(t, sock, &control.Request{Verb: "show", Words: []string{"vpdn", "history", "failure"}}); strings.Contains(r.Text, "alice") {
		t.Fatalf("history not cleared: %s", r.Text)
	}
}

// TestDomainsAndAttributes: document 002's per-domain pools and a per-user
// static address with a route, from configuration to authorization.
func TestDomainsAndAttributes(t *testing.T) {
	b, err := os.ReadFile("../config/testdata/docs/002-domains.cfg")
	if err != nil {
		t.Fatal(err)
	}
	d, _, _ := startDaemon(t, string(b))
	auth := d.Authenticator("", "")
	for _, c := range []struct {
		user, pass, pool, addr, route, dns string
	}{
		{"l2tpuser@sales", "Admin@123", "SALES", "", "", "198.19.10.53"},
		{"l2tpuser@rnd", "Admin@123", "RND", "", "", ""},
		{"branch7", "Br7nch!", "", "198.19.40.7", "198.19.47.0/24", ""},
	} {
		r, err := auth.Authenticate(context.Background(), &aaa.Request{Method: aaa.PAP, Username: c.user, Password: []byte(c.pass)})
		if err != nil || !r.Accept {
			t.Fatalf("%s: %+v %v", c.user, r, err)
		}
		a := r.Authz
		if a.Pool != c.pool || (c.addr != "" && a.Address.String() != c.addr) {
			t.Errorf("%s: pool %q address %v; want %q %s", c.user, a.Pool, a.Address, c.pool, c.addr)
		}
		if c.route != "" && (len(a.Routes) != 1 || a.Routes[0].String() != c.route) {
			t.Errorf("%s: routes %v", c.user, a.Routes)
		}
		if c.dns != "" && (len(a.DNS) != 1 || a.DNS[0].String() != c.dns) {
			t.Errorf("%s: DNS %v", c.user, a.DNS)
		}
		lease, err := aaa.AssignAddress(d.svc.Load().pools, &a, "DEFAULT")
		if err != nil {
			t.Fatalf("%s: address: %v", c.user, err)
		}
		t.Logf("%s -> %s", c.user, lease.Addr)
		lease.Release()
	}
}

// TestReloadKeepsLeases: after a reload, the new pools do not hand out an
// address a live session holds.
func TestReloadKeepsLeases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(3)
		lns := newMemDaemon(t, nw, memLNS)
		lac := newMemDaemon(t, nw, memLAC)
		for i := 0; lns.host.Device("Vi1") == nil; i++ {
			if i > 60 {
				t.Fatal("no session")
			}
			time.Sleep(time.Second)
		}
		synctest.Wait()
		_ = lac
		held := netip.MustParseAddr("198.19.1.1")
		path := lns.d.opts.ConfigPath
		if err := os.WriteFile(path, []byte(memLNS+"hostname changed\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := lns.d.Reload(); err != nil {
			t.Fatal(err)
		}
		authz := aaa.Authorization{}
		next, err := aaa.AssignAddress(lns.d.svc.Load().pools, &authz, "P")
		if err != nil {
			t.Fatal(err)
		}
		if next.Addr == held {
			t.Fatalf("the reloaded pool handed out %s again, which a live session holds", next.Addr)
		}
	})
}
