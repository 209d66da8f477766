package control

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

func TestRoleOf(t *testing.T) {
	me := uint32(os.Geteuid())
	r := Roles{AdminGID: 100, ReadGID: 200}
	for _, tc := range []struct {
		name string
		r    Roles
		p    Peer
		want Role
	}{
		{"root", NoGroups, Peer{UID: 0, GID: 0}, RoleAdmin},
		{"the daemon's user", NoGroups, Peer{UID: me, GID: 12345}, RoleAdmin},
		{"stranger, no groups", NoGroups, Peer{UID: 65534, GID: 65534}, RoleNone},
		{"stranger in group 0 with no groups named", NoGroups, Peer{UID: 65534, GID: 0}, RoleNone},
		{"admin by primary group", r, Peer{UID: 65534, GID: 100}, RoleAdmin},
		{"admin by supplementary group", r, Peer{UID: 65534, GID: 65534, Groups: []uint32{5, 100}}, RoleAdmin},
		{"read-only by primary group", r, Peer{UID: 65534, GID: 200}, RoleReadOnly},
		{"read-only by supplementary group", r, Peer{UID: 65534, GID: 1, Groups: []uint32{200}}, RoleReadOnly},
		{"in both: admin", r, Peer{UID: 65534, GID: 200, Groups: []uint32{100}}, RoleAdmin},
		{"in neither", r, Peer{UID: 65534, GID: 300, Groups: []uint32{400}}, RoleNone},
	} {
		if me == 65534 && tc.p.UID == 65534 {
			continue
		}
		if got := tc.r.RoleOf(tc.p); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestPermit(t *testing.T) {
	for _, tc := range []struct {
		req  Request
		role Role
		ok   bool
	}{
		{Request{Verb: "show", Words: []string{"vpdn"}}, RoleReadOnly, true},
		{Request{Verb: "ping"}, RoleReadOnly, true},
		{Request{Verb: "show", Words: []string{"running-config"}, Secrets: true}, RoleReadOnly, false},
		{Request{Verb: "show", Words: []string{"running-config"}, Secrets: true}, RoleAdmin, true},
		{Request{Verb: "clear", Words: []string{"vpdn", "tunnel", "all"}}, RoleReadOnly, false},
		{Request{Verb: "crypto", Words: []string{"ipsec", "client", "ezvpn", "connect"}}, RoleReadOnly, false},
		{Request{Verb: "crypto", Words: []string{"ipsec", "client", "ezvpn", "connect"}}, RoleAdmin, true},
		{Request{Verb: "debug", Words: []string{"all"}}, RoleReadOnly, false},
		{Request{Verb: "undebug", Words: []string{"all"}}, RoleReadOnly, false},
		{Request{Verb: "reload"}, RoleReadOnly, false},
		{Request{Verb: "reload"}, RoleAdmin, true},
		{Request{Verb: "bogus"}, RoleReadOnly, false},
		{Request{Verb: "show"}, RoleNone, false},
		{Request{Verb: "ping"}, RoleNone, false},
	} {
		resp := permit(Peer{UID: 65534}, tc.role, &tc.req)
		if (resp == nil) != tc.ok {
			t.Errorf("%+v as %v: %+v, want allowed %v", tc.req, tc.role, resp, tc.ok)
		}
		if resp != nil && !strings.HasPrefix(resp.Error, ErrPermission) {
			t.Errorf("refusal %q does not start with %q", resp.Error, ErrPermission)
		}
	}
}

func TestLookupRoles(t *testing.T) {
	r, err := LookupRoles("nogroup", "")
	if err != nil {
		t.Skipf("no group nogroup here: %v", err)
	}
	if r.AdminGID != 65534 || r.ReadGID != -1 {
		t.Errorf("%+v", r)
	}
	if r, err := LookupRoles("", "42"); err != nil || r.ReadGID != 42 || r.AdminGID != -1 {
		t.Errorf("numeric: %+v %v", r, err)
	}
	if _, err := LookupRoles("no-such-group-vpdn", ""); err == nil || !strings.Contains(err.Error(), "--admin-group") {
		t.Errorf("unknown group: %v", err)
	}
}

// The helper process of TestSocketRoles: it dials the socket named by
// VPDN_CONTROL_HELPER, sends the request in VPDN_CONTROL_REQUEST and
// prints the response as JSON, or "dial: ERROR".
func TestMain(m *testing.M) {
	if path := os.Getenv("VPDN_CONTROL_HELPER"); path != "" {
		var req Request
		if err := json.Unmarshal([]byte(os.Getenv("VPDN_CONTROL_REQUEST")), &req); err != nil {
			os.Stdout.WriteString("bad request: " + err.Error())
			os.Exit(2)
		}
		c, err := Dial(path)
		if err != nil {
			os.Stdout.WriteString("dial: " + err.Error())
			os.Exit(1)
		}
		resp, err := c.Do(&req)
		c.Close()
		if err != nil {
			os.Stdout.WriteString("do: " + err.Error())
			os.Exit(1)
		}
		json.NewEncoder(os.Stdout).Encode(resp)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSocketRoles serves a real unix socket and asks it from child
// processes running as nobody (uid 65534), with nogroup (65534) as the
// read-only group, then as the admin group, then as neither; and dials a
// socket nobody cannot open. Needs root to set the child's credentials.
func TestSocketRoles(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the children run as uid 65534")
	}
	// The children run a copy of this test binary from a directory they
	// can reach (go test's own is private to root).
	dir, err := os.MkdirTemp("", "vpdn-control-roles-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "control.test")
	copyFile(t, exe, bin)

	ask := func(t *testing.T, sock string, req Request) (*Response, string) {
		t.Helper()
		b, _ := json.Marshal(req)
		cmd := exec.Command(bin, "-test.run=^$")
		cmd.Env = []string{"VPDN_CONTROL_HELPER=" + sock, "VPDN_CONTROL_REQUEST=" + string(b)}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
		out, err := cmd.Output()
		var resp Response
		if jerr := json.Unmarshal(out, &resp); jerr != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				out = append(out, ee.Stderr...)
			} else if err != nil {
				out = append(out, err.Error()...)
			}
			return nil, string(out)
		}
		return &resp, ""
	}
	var served atomic.Int32
	h := HandlerFunc(func(ctx context.Context, req *Request) *Response {
		served.Add(1)
		return &Response{OK: true, Text: "served " + req.Verb}
	})
	show := Request{Verb: "show", Words: []string{"vpdn"}}
	secrets := Request{Verb: "show", Words: []string{"running-config"}, Secrets: true}
	reload := Request{Verb: "reload"}
	for _, tc := range []struct {
		name  string
		roles Roles
		// allowed per request: show, show --secrets, reload
		want [3]bool
	}{
		{"read-only group", Roles{AdminGID: -1, ReadGID: 65534}, [3]bool{true, false, false}},
		{"admin group", Roles{AdminGID: 65534, ReadGID: -1}, [3]bool{true, true, true}},
		{"neither", Roles{AdminGID: 4242, ReadGID: 4343}, [3]bool{false, false, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sock := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"), "vpdn.sock")
			ln, err := Listen(sock, tc.roles)
			if err != nil {
				t.Fatal(err)
			}
			srv := &Server{Handler: h, Roles: &tc.roles}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- srv.Serve(ctx, ln) }()
			defer func() { cancel(); <-done }()
			for i, req := range []Request{show, secrets, reload} {
				before := served.Load()
				resp, fail := ask(t, sock, req)
				if resp == nil {
					t.Fatalf("%+v: the child could not ask: %s", req, fail)
				}
				if resp.OK != tc.want[i] {
					t.Errorf("%+v: %+v, want allowed %v", req, resp, tc.want[i])
				}
				if !resp.OK && !strings.HasPrefix(resp.Error, ErrPermission) {
					t.Errorf("%+v: refusal %q, want %q", req, resp.Error, ErrPermission)
				}
				if !resp.OK && served.Load() != before {
					t.Errorf("%+v: the handler ran for a refused request", req)
				}
			}
		})
	}
	t.Run("no access to the socket file", func(t *testing.T) {
		sock := filepath.Join(dir, "private", "vpdn.sock")
		ln, err := Listen(sock, NoGroups) // 0660 root:root in a 0750 directory
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		if err := os.Chmod(filepath.Dir(sock), 0o755); err != nil {
			t.Fatal(err)
		}
		_, out := ask(t, sock, show)
		if !strings.Contains(out, "dial: "+ErrPermission) || strings.Contains(out, "is \"vpdn serve\" running") {
			t.Errorf("dial of a socket nobody cannot open: %q, want %q", out, ErrPermission)
		}
	})
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
