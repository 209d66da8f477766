package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/control"
	"github.com/vpdn/vpdn/transport/memnet"
)

// lockedBuffer is a log sink shared by goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestSecretsNotLogged sets up an L2TP session (tunnel authentication
// with a secret, PPP with CHAP, then with PAP, which carries the password
// itself) between two in-memory daemons with every debug switch on and
// their logs captured, reloads the LNS with a changed password, and
// looks for the secrets in the logs: none may be there (issue 13 item 6).
func TestSecretsNotLogged(t *testing.T) {
	for _, auth := range []string{"chap", "pap"} {
		t.Run(auth, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var logs lockedBuffer
				logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
				withLog := func(o *Options) { o.Logger = logger }
				lnsCfg, lacCfg := memLNS, memLAC
				if auth == "pap" {
					lnsCfg = strings.Replace(lnsCfg, "ppp authentication chap", "ppp authentication pap", 1)
					lacCfg = strings.Replace(lacCfg, " ppp chap hostname alice\n ppp chap password 0 wonderland\n",
						" ppp pap sent-username alice password 0 wonderland\n", 1)
				}
				nw := memnet.New(1)
				lns := newMemDaemon(t, nw, lnsCfg, withLog)
				for _, d := range []*Daemon{lns.d} {
					if r := d.Do(context.Background(), &control.Request{Verb: "debug", Words: []string{"all"}}); !r.OK {
						t.Fatal(r.Error)
					}
				}
				lac := newMemDaemon(t, nw, lacCfg, withLog)
				if r := lac.d.Do(context.Background(), &control.Request{Verb: "debug", Words: []string{"all"}}); !r.OK {
					t.Fatal(r.Error)
				}
				for i := 0; lac.host.Device("Vp1") == nil || lns.host.Device("Vi1") == nil; i++ {
					if i > 60 {
						t.Fatalf("no session: LAC links %v, LNS links %v\n%s", lac.host.Links(), lns.host.Links(), logs.String())
					}
					time.Sleep(time.Second)
				}
				synctest.Wait()
				// A reload that changes the secrets logs its changes.
				changed := strings.ReplaceAll(strings.ReplaceAll(lnsCfg, "wonderland", "looking-glass"), "s3cret", "t0psecret")
				if err := os.WriteFile(lns.d.opts.ConfigPath, []byte(changed), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := lns.d.Reload(); err != nil {
					t.Fatal(err)
				}
				out := logs.String()
				if !strings.Contains(out, "Vi1") || !strings.Contains(out, "config change") {
					t.Fatalf("the debug output is not what this test expects:\n%s", out)
				}
				for _, secret := range []string{"wonderland", "s3cret", "looking-glass", "t0psecret"} {
					if strings.Contains(out, secret) {
						for _, line := range strings.Split(out, "\n") {
							if strings.Contains(line, secret) {
								t.Errorf("secret %q logged: %s", secret, line)
							}
						}
					}
				}
				t.Logf("%d log lines, none with a secret", strings.Count(out, "\n"))
			})
		})
	}
}

// TestShowRunningConfigSecrets: through Do (as the socket would, after
// its role check), show running-config masks the clear-text secrets in
// text and JSON; --secrets prints them; under service
// password-encryption they are type 7.
func TestShowRunningConfigSecrets(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     string
		secrets bool
		want    []string
		clear   bool
	}{
		{"masked", memLNS, false, []string{"username alice password 0 <removed>", "l2tp tunnel password 0 <removed>"}, false},
		{"revealed", memLNS, true, []string{"username alice password 0 wonderland", "l2tp tunnel password 0 s3cret"}, true},
		{"type 7", "service password-encryption\n" + memLNS, false, []string{"service password-encryption", "username alice password 7 ", "l2tp tunnel password 7 "}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				d := newMemDaemon(t, memnet.New(1), tc.cfg)
				for _, asJSON := range []bool{false, true} {
					r := d.d.Do(context.Background(), &control.Request{Verb: "show", Words: []string{"run"}, JSON: asJSON, Secrets: tc.secrets})
					if !r.OK {
						t.Fatal(r.Error)
					}
					out := r.Text
					if asJSON {
						out = string(r.Data)
						if !json.Valid(r.Data) {
							t.Fatalf("invalid JSON %s", out)
						}
					} else {
						for _, w := range tc.want {
							if !strings.Contains(out, w) {
								t.Errorf("no %q in\n%s", w, out)
							}
						}
					}
					for _, s := range []string{"wonderland", "s3cret"} {
						if strings.Contains(out, s) != tc.clear {
							t.Errorf("json %v: %q shown: %v, want %v\n%s", asJSON, s, !tc.clear, tc.clear, out)
						}
					}
				}
			})
		})
	}
}
