package main

import (
	"os"
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
