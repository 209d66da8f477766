package main

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/nstest"
)

// TestPPTPInNamespaces: document 004's PPTP hub, as written (addresses
// mapped into the lab range), served by vpdn serve in one namespace, and
// vpdn dial --protocol pptp (the PC-style client: a control connection on
// TCP 1723, an outgoing call, enhanced GRE) in another: MS-CHAPv2, a pool
// address, MPPE-128 on both ends, pings and a TCP transfer with matching
// bytes through the encrypted tunnel; tshark finds no malformed packet in
// the PPTP control messages and GRE the two exchanged; SIGTERM clears the
// call and the hub sees it go.
func TestPPTPInNamespaces(t *testing.T) {
	lab := nstest.New(t)
	bin := vpdnBinary(t)
	pc, hub := lab.NS("pc"), lab.NS("hub")
	dev, _ := lab.Link(pc, hub, mustPrefix("198.18.0.1/24"), mustPrefix("198.18.0.2/24"))
	capture := lab.Capture(pc, dev, "tcp port 1723 or ip proto 47")
	b, err := os.ReadFile("../../config/testdata/docs/004-pptp-hub.cfg")
	if err != nil {
		t.Fatal(err)
	}
	cfg := "hostname PPTP_HUB\nvpdn pptp listen 198.18.0.2\n" + strings.ReplaceAll(string(b), "192.168.2.", "198.19.2.")
	hubD := serveIn(t, lab, hub, "PPTP_HUB", cfg)
	hubD.waitUp(t)
	out, errOut := &nstest.SyncBuffer{}, &nstest.SyncBuffer{}
	dial := pc.Command(bin, "dial", "--protocol", "pptp", "--mppe", "required", "--server", "198.18.0.2",
		"--user", "cisco2", "--password", "cisco2", "--route", "198.19.2.0/24")
	dial.Stdout, dial.Stderr = out, errOut
	if err := lab.Start(dial); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("dial stdout:\n%s\ndial stderr:\n%s", out, errOut)
		}
	}()
	waitFor(t, "vpdn dial to report the address", func() bool { return strings.Contains(out.String(), "Dialer1 is up: address 198.19.2.5") })
	t.Logf("vpdn dial: %s", lastLine(out.String()))
	if p, err := pc.Run(15*time.Second, "ping", "-c", "3", "-W", "2", "198.19.2.2"); err != nil {
		t.Fatalf("ping: %v\n%s", err, p)
	}
	transferTCP(t, pc, hub, "198.19.2.2:5003", 4<<20)
	mp := hubD.show("show", "ppp", "mppe", "virtual-access", "1")
	if !strings.Contains(mp, "128 bit encryption") || strings.Contains(mp, "packets decrypted  = 0") {
		t.Errorf("show ppp mppe virtual-access 1:\n%s", mp)
	}
	ses := hubD.show("show", "vpdn", "session")
	if !strings.Contains(ses, "PPTP Session Information") || !strings.Contains(ses, "cisco2") {
		t.Errorf("show vpdn session:\n%s", ses)
	}
	dial.Process.Signal(syscall.SIGTERM)
	errc := make(chan error, 1)
	go func() { errc <- dial.Wait() }()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("vpdn dial exited with %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("vpdn dial did not exit on SIGTERM")
	}
	waitFor(t, "the hub to see the call end", func() bool {
		return !strings.Contains(hubD.show("show", "vpdn", "session"), "cisco2")
	})
	if capture != nil {
		capture.Stop()
		bad, err := nstest.Problems(capture.Path)
		if err != nil || len(bad) > 0 {
			t.Errorf("tshark: %v %v", bad, err)
		}
		ctl, _ := nstest.Decode(capture.Path, "pptp")
		gre, _ := nstest.Decode(capture.Path, "gre && gre.proto == 0x880b")
		if len(ctl) < 4 || len(gre) < 100 {
			t.Errorf("capture: %d PPTP control messages, %d enhanced GRE packets", len(ctl), len(gre))
		}
		t.Logf("capture: %d PPTP control messages, %d enhanced GRE packets, no malformed packet", len(ctl), len(gre))
	}
}

// TestPPTPLossInNamespaces: document 004's hub with MPPE-128 required,
// stateful or stateless, and vpdn dial with the same, through 5 % GRE
// loss in both directions (nftables in the hub's namespace, input and
// output): pings and a TCP transfer still go, with matching checksums.
// Stateful falls back to stateless (document 001's flow alarm): show ppp
// mppe says Stateless mode, vpdn_mppe_fallbacks_total is 1, and pings go
// on. Stateless stays as it is, with no fallback counted.
func TestPPTPLossInNamespaces(t *testing.T) {
	for _, mode := range []string{"stateful", "stateless"} {
		t.Run(mode, func(t *testing.T) {
			lab := nstest.New(t)
			bin := vpdnBinary(t)
			pc, hub := lab.NS("pc"), lab.NS("hub")
			lab.Link(pc, hub, mustPrefix("198.18.0.1/24"), mustPrefix("198.18.0.2/24"))
			b, err := os.ReadFile("../../config/testdata/docs/004-pptp-hub.cfg")
			if err != nil {
				t.Fatal(err)
			}
			enc, dialMPPE := "ppp encrypt mppe 128 required", "required"
			if mode == "stateful" {
				enc, dialMPPE = "ppp encrypt mppe 128 required stateful", "stateful"
			}
			cfg := "hostname PPTP_HUB\nvpdn pptp listen 198.18.0.2\nvpdn metrics listen 127.0.0.1:9180\n" +
				strings.ReplaceAll(strings.ReplaceAll(string(b), "192.168.2.", "198.19.2."), "ppp encrypt mppe auto", enc)
			hubD := serveIn(t, lab, hub, "PPTP_HUB", cfg)
			hubD.waitUp(t)
			out, errOut := &nstest.SyncBuffer{}, &nstest.SyncBuffer{}
			dial := pc.Command(bin, "dial", "--protocol", "pptp", "--mppe", dialMPPE, "--server", "198.18.0.2",
				"--user", "cisco2", "--password", "cisco2", "--route", "198.19.2.0/24", "--log-level", "info")
			dial.Stdout, dial.Stderr = out, errOut
			if err := lab.Start(dial); err != nil {
				t.Fatal(err)
			}
			defer func() {
				if t.Failed() {
					t.Logf("dial stdout:\n%s\ndial stderr:\n%s", out, errOut)
				}
			}()
			waitFor(t, "vpdn dial to report the address", func() bool { return strings.Contains(out.String(), "Dialer1 is up: address 198.19.2.5") })
			mp := hubD.show("show", "ppp", "mppe", "virtual-access", "1")
			wantMode := map[string]string{"stateful": "Stateful mode", "stateless": "Stateless mode"}[mode]
			if !strings.Contains(mp, "128 bit encryption, "+wantMode) {
				t.Fatalf("before the loss, show ppp mppe virtual-access 1:\n%s", mp)
			}
			// 5 % of GRE dropped each way, at random (RFC 2637 §4: data is
			// never retransmitted; the loss reaches PPP and MPPE).
			rules := filepath.Join(t.TempDir(), "loss.nft")
			if err := os.WriteFile(rules, []byte(`table ip gre_loss {
	chain in { type filter hook input priority 0; ip protocol gre numgen random mod 100 < 5 drop; }
	chain out { type filter hook output priority 0; ip protocol gre numgen random mod 100 < 5 drop; }
}
`), 0o644); err != nil {
				t.Fatal(err)
			}
			if o, err := hub.Run(10*time.Second, "nft", "-f", rules); err != nil {
				t.Fatalf("nft: %v\n%s", err, o)
			}
			if p, err := pc.Run(30*time.Second, "ping", "-c", "40", "-i", "0.2", "-W", "2", "198.19.2.2"); err != nil {
				t.Fatalf("ping through the loss: %v\n%s", err, p)
			}
			transferTCP(t, pc, hub, "198.19.2.2:5003", 4<<20)
			if mode == "stateful" {
				waitFor(t, "the fallback to stateless", func() bool {
					return strings.Contains(hubD.show("show", "ppp", "mppe", "virtual-access", "1"), "128 bit encryption, Stateless mode")
				})
			}
			mp = hubD.show("show", "ppp", "mppe", "virtual-access", "1")
			if !strings.Contains(mp, "Stateless mode") {
				t.Fatalf("after the loss, show ppp mppe virtual-access 1:\n%s", mp)
			}
			t.Logf("show ppp mppe virtual-access 1:\n%s\nhub log:\n%s", mp, grepLines(hubD.logs.String()+errOut.String(), "MPPE"))
			want := map[string]string{"stateful": "vpdn_mppe_fallbacks_total 1", "stateless": "vpdn_mppe_fallbacks_total 0"}[mode]
			var metrics string
			// The socket is made in the hub's namespace (Do); an
			// http.Client would dial from another thread, outside it.
			var conn net.Conn
			if err := hub.Do(func() (err error) {
				conn, err = net.DialTimeout("tcp4", "127.0.0.1:9180", 5*time.Second)
				return err
			}); err != nil {
				t.Fatalf("metrics: %v", err)
			}
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(conn, "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
			body, err := io.ReadAll(conn)
			conn.Close()
			metrics = string(body)
			if err != nil {
				t.Fatalf("metrics: %v", err)
			}
			if !strings.Contains(metrics, want+"\n") {
				t.Errorf("metrics: want %q in:\n%s", want, grepLines(metrics, "vpdn_mppe"))
			}
			ses := hubD.show("show", "vpdn", "session", "all")
			if !strings.Contains(ses, "Flow alarm is") {
				t.Errorf("show vpdn session all:\n%s", ses)
			}
			t.Logf("show vpdn session all:\n%s", ses)
			if p, err := pc.Run(30*time.Second, "ping", "-c", "10", "-i", "0.2", "-W", "2", "198.19.2.2"); err != nil {
				t.Fatalf("ping after the fallback: %v\n%s", err, p)
			}
			dial.Process.Signal(syscall.SIGTERM)
			errc := make(chan error, 1)
			go func() { errc <- dial.Wait() }()
			select {
			case <-errc:
			case <-time.After(15 * time.Second):
				t.Fatal("vpdn dial did not exit on SIGTERM")
			}
		})
	}
}

// grepLines returns the lines of s that contain word.
func grepLines(s, word string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, word) {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
