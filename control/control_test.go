package control

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestTreeResolve(t *testing.T) {
	var tr Tree
	for _, w := range []string{"running-config", "vpdn", "vpdn session", "vpdn tunnel", "version", "l2tun tunnel", "l2tun session", "interfaces virtual-access"} {
		c := &Command{Words: w}
		if strings.HasSuffix(w, "session") || strings.HasSuffix(w, "tunnel") {
			c.Optional = []string{"all"}
		}
		if w == "interfaces virtual-access" {
			c.Args = 1
		}
		tr.Add(c)
	}
	cases := map[string]string{
		"run": "running-config", "running-config": "running-config", "vpdn": "vpdn", "vpdn ses": "vpdn session",
		"vpdn session all": "vpdn session", "vpdn tun a": "vpdn tunnel", "l2tun t": "l2tun tunnel", "vers": "version",
		"int virtual-a 3": "interfaces virtual-access",
	}
	for in, want := range cases {
		c, _, _, err := tr.Resolve(strings.Fields(in))
		if err != nil || c.Words != want {
			t.Errorf("Resolve(%q) = %v, %v; want %s", in, c, err, want)
		}
	}
	for _, bad := range []string{"", "v", "nothing", "vpdn session bogus", "l2tun", "int virtual-a"} {
		if c, _, _, err := tr.Resolve(strings.Fields(bad)); err == nil {
			t.Errorf("Resolve(%q) = %v, want error", bad, c.Words)
		}
	}
	_, args, opts, _ := tr.Resolve([]string{"int", "virtual-access", "3"})
	if len(args) != 1 || args[0] != "3" || len(opts) != 0 {
		t.Errorf("args %v opts %v", args, opts)
	}
}

// TestResolveCandidatesOnce checks that the candidates an error lists name
// each command once, even one registered with and without an argument.
func TestResolveCandidatesOnce(t *testing.T) {
	var tr Tree
	tr.Add(&Command{Words: "ip local pool"})
	tr.Add(&Command{Words: "ip local pool", Args: 1})
	tr.Add(&Command{Words: "vpdn"})
	for _, in := range []string{"", "bogus", "ip local pool a b", "vpdn extra"} {
		_, _, _, err := tr.Resolve(strings.Fields(in))
		if err == nil {
			t.Fatalf("Resolve(%q): no error", in)
		}
		msg := err.Error()
		_, list, _ := strings.Cut(msg, "expected one of: ")
		if n := strings.Count(list, "ip local pool"); n != 1 {
			t.Errorf("Resolve(%q): %q names ip local pool %d times, want once", in, msg, n)
		}
		if list != "ip local pool, vpdn" {
			t.Errorf("Resolve(%q): %q, want the candidates in registration order", in, msg)
		}
	}
	if c, args, _, err := tr.Resolve([]string{"ip", "local", "pool", "REMOTE"}); err != nil || c.Args != 1 || len(args) != 1 || args[0] != "REMOTE" {
		t.Errorf("Resolve(ip local pool REMOTE) = %v, %v, %v", c, args, err)
	}
}

func TestServerRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	ln, err := Listen(path, NoGroups)
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{Handler: HandlerFunc(func(ctx context.Context, r *Request) *Response {
		return &Response{OK: true, Text: r.Verb + ":" + strings.Join(r.Words, " ")}
	})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- srv.Serve(ctx, ln) }()
	if _, err := Listen(path, NoGroups); err == nil {
		t.Fatal("a second Listen took over a live socket")
	}
	c, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		resp, err := c.Do(&Request{Verb: "show", Words: []string{"vpdn"}})
		if err != nil || !resp.OK || resp.Text != "show:vpdn" {
			t.Fatalf("resp %+v err %v", resp, err)
		}
	}
	c.conn.Write([]byte("{not json\n"))
	line, _ := c.r.ReadString('\n')
	if !strings.Contains(line, "malformed request") {
		t.Fatalf("malformed request answered %q", line)
	}
	c.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := Dial(path); err == nil {
		t.Fatal("socket still answers after shutdown")
	}
}
