package nstest

import (
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestTwoNamespacesPing builds two namespaces joined by a veth pair, pings
// across, exchanges UDP from Go code running inside each namespace,
// captures the exchange with tshark, and checks everything is gone after.
func TestTwoNamespacesPing(t *testing.T) {
	var names []string
	t.Run("lab", func(t *testing.T) {
		lab := New(t)
		a, b := lab.NS("a"), lab.NS("b")
		names = []string{a.Name, b.Name}
		devA, _ := lab.Link(a, b, netip.MustParsePrefix("198.18.0.1/24"), netip.MustParsePrefix("198.18.0.2/24"))
		capture := lab.Capture(a, devA, "icmp or udp port 9")

		if _, err := exec.LookPath("ping"); err == nil {
			out, err := a.Run(10*time.Second, "ping", "-c", "2", "-W", "2", "198.18.0.2")
			if err != nil {
				t.Fatalf("ping across the veth pair failed: %v\n%s", err, out)
			}
		} else {
			t.Log("ping not installed; relying on the UDP exchange")
		}

		// Go code inside each namespace: a UDP echo server in b, a client in a.
		ready := make(chan *net.UDPConn, 1)
		errc := make(chan error, 1)
		go func() {
			errc <- b.Do(func() error {
				c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(198, 18, 0, 2), Port: 9})
				if err != nil {
					return err
				}
				ready <- c
				buf := make([]byte, 64)
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				n, from, err := c.ReadFromUDP(buf)
				if err != nil {
					return err
				}
				_, err = c.WriteToUDP(buf[:n], from)
				return err
			})
		}()
		srv := <-ready
		defer srv.Close()
		err := a.Do(func() error {
			c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(198, 18, 0, 2), Port: 9})
			if err != nil {
				return err
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Write([]byte("hello from a")); err != nil {
				return err
			}
			buf := make([]byte, 64)
			n, err := c.Read(buf)
			if err != nil {
				return err
			}
			if string(buf[:n]) != "hello from a" {
				t.Errorf("echo = %q", buf[:n])
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if capture != nil {
			capture.Stop()
			udp, err := Decode(capture.Path, "udp.dstport == 9")
			if err != nil {
				t.Fatal(err)
			}
			if len(udp) != 1 {
				t.Fatalf("capture holds %d UDP packets to port 9, want 1: %v", len(udp), udp)
			}
			bad, err := Problems(capture.Path)
			if err != nil || len(bad) != 0 {
				t.Fatalf("tshark problems: %v %v", bad, err)
			}
		}
		// The process runner: a process is stopped by PID at cleanup.
		sleeper := a.Command("sleep", "600")
		if err := lab.Start(sleeper); err != nil {
			t.Fatal(err)
		}
	})
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, n := range names {
		if strings.Contains(string(out), n) {
			t.Errorf("namespace %s still exists after the test", n)
		}
	}
}

// TestLabRangeEnforced: the harness refuses addresses outside 198.18.0.0/15.
func TestLabRangeEnforced(t *testing.T) {
	for _, s := range []string{"10.0.0.1/24", "192.168.1.1/24", "198.20.0.1/24", "198.18.0.0/14", "0.0.0.0/0"} {
		if err := CheckLabAddr(netip.MustParsePrefix(s)); err == nil {
			t.Errorf("%s accepted", s)
		}
	}
	for _, s := range []string{"198.18.0.1/24", "198.19.255.254/32", "198.19.0.0/16"} {
		if err := CheckLabAddr(netip.MustParsePrefix(s)); err != nil {
			t.Errorf("%s refused: %v", s, err)
		}
	}
}

// TestCleanupOnPanic runs a test that panics in a child process and checks
// that its namespace is gone afterwards.
func TestCleanupOnPanic(t *testing.T) {
	if err := Available(); err != nil {
		t.Skip(err)
	}
	nameFile := filepath.Join(t.TempDir(), "name")
	cmd := exec.Command(os.Args[0], "-test.run=^TestPanickingHelper$", "-test.v")
	cmd.Env = append(os.Environ(), "NSTEST_PANIC_FILE="+nameFile)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "deliberate panic") {
		t.Fatalf("helper did not panic: %v\n%s", err, out)
	}
	name, err := os.ReadFile(nameFile)
	if err != nil || len(name) == 0 {
		t.Fatalf("helper wrote no namespace name: %v", err)
	}
	list, _ := exec.Command("ip", "netns", "list").Output()
	if strings.Contains(string(list), string(name)) {
		t.Fatalf("namespace %s survived a panicking test", name)
	}
}

func TestPanickingHelper(t *testing.T) {
	f := os.Getenv("NSTEST_PANIC_FILE")
	if f == "" {
		t.Skip("run by TestCleanupOnPanic")
	}
	lab := New(t)
	ns := lab.NS("panics")
	os.WriteFile(f, []byte(ns.Name), 0o644)
	panic("deliberate panic")
}

// TestProcessesSurviveDo: processes started with Start survive NS.Do calls
// (Pdeathsig is tied to the forking thread, so Start forks from a thread
// that never exits), and Do leaves the calling goroutines in the host
// namespace.
func TestProcessesSurviveDo(t *testing.T) {
	lab := New(t)
	ns := lab.NS("spawn")
	var cmds []*exec.Cmd
	for i := 0; i < 10; i++ {
		c := ns.Command("sleep", "60")
		if err := lab.Start(c); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c)
		if err := ns.Do(func() error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	host, _ := os.Readlink("/proc/self/ns/net")
	deadline := time.Now().Add(500 * time.Millisecond)
	for time.Now().Before(deadline) {
		for i, c := range cmds {
			if err := c.Process.Signal(syscall.Signal(0)); err != nil {
				t.Fatalf("process %d died after NS.Do: %v", i, err)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if now, _ := os.Readlink("/proc/self/ns/net"); now != host {
		t.Fatalf("the test process's namespace changed: %s -> %s", host, now)
	}
}
