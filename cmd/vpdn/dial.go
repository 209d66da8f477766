package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/vpdn/vpdn/daemon"
	"github.com/vpdn/vpdn/internal/debug"
)

// routeList collects repeated --route flags.
type routeList []netip.Prefix

func (r *routeList) String() string { return fmt.Sprint(*r) }
func (r *routeList) Set(s string) error {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() || p.Masked() != p {
		return fmt.Errorf("expected an IPv4 prefix such as 198.19.0.0/16")
	}
	*r = append(*r, p)
	return nil
}

// runDial is the PC-style L2TP or PPTP client of document 002's "L2TP
// client" table: it brings up a Virtual-PPP interface from flags, prints the
// assigned address, stays in the foreground, and on Ctrl-C or SIGTERM
// clears the session (CDN, StopCCN) and removes its interface and routes.
// It runs the daemon's own code on a configuration generated from the
// flags, so everything the daemon does for a Virtual-PPP it does here.
func runDial(args []string) int {
	fs := flag.NewFlagSet("dial", flag.ContinueOnError)
	server := fs.String("server", "", "the tunnel server's address (required)")
	user := fs.String("user", "", "PPP user name (required)")
	password := fs.String("password", "", "PPP password (required)")
	tunnelName := fs.String("tunnel-name", "", "the host name announced in the L2TP tunnel (default vpdn-client)")
	auth := fs.String("auth", "", "accept only this authentication: pap, chap, ms-chap, ms-chap-v2 or eap (EAP-MD5, or EAP-MSCHAPv2, which --mppe required asks for; default: any the server offers but EAP)")
	tunnelPassword := fs.String("tunnel-password", "", "L2TP tunnel password, when the LNS authenticates tunnels")
	iface := fs.Int("interface", 1, "the Virtual-PPP unit (interface VpN)")
	socket := fs.String("socket", "", "control socket for show commands while connected (default: a private one)")
	timeout := fs.Duration("timeout", 60*time.Second, "give up when not connected within this time (0: keep trying)")
	var routes routeList
	fs.Var(&routes, "route", "a prefix to route through the tunnel (repeatable), e.g. --route 198.19.0.0/16")
	protocol := fs.String("protocol", "l2tp", "the tunnel protocol: l2tp or pptp")
	encrypt := fs.String("mppe", "auto", "PPTP: MPPE encryption: auto (offer 40 and 128 bits), required (drop the call without it), stateful (required, stateful mode: falls back to stateless on the PPTP flow alarm), or none")
	logLevel := fs.String("log-level", "warn", "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *server == "" || *user == "" || *password == "" || fs.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: vpdn dial --server ADDRESS --user NAME --password PASSWORD [--protocol l2tp|pptp] [--mppe auto|required|stateful|none] [--tunnel-name NAME] [--auth METHOD] [--tunnel-password PASSWORD] [--route PREFIX]...")
		return 2
	}
	srv, err := netip.ParseAddr(*server)
	if err != nil || !srv.Is4() {
		fmt.Fprintf(os.Stderr, "vpdn dial: --server %q: expected an IPv4 address\n", *server)
		return 2
	}
	for name, v := range map[string]string{"--user": *user, "--password": *password, "--tunnel-name": *tunnelName, "--tunnel-password": *tunnelPassword} {
		if strings.ContainsAny(v, " \t\n") {
			fmt.Fprintf(os.Stderr, "vpdn dial: %s must not contain spaces\n", name)
			return 2
		}
	}
	refuse := []string{}
	if *auth != "" {
		all := []string{"pap", "chap", "ms-chap", "ms-chap-v2", "eap"}
		found := false
		for _, a := range all {
			if a == *auth {
				found = true
			} else {
				refuse = append(refuse, a)
			}
		}
		if !found {
			fmt.Fprintf(os.Stderr, "vpdn dial: --auth %q: expected pap, chap, ms-chap, ms-chap-v2 or eap\n", *auth)
			return 2
		}
	}

	if *protocol != "l2tp" && *protocol != "pptp" {
		fmt.Fprintf(os.Stderr, "vpdn dial: --protocol %q: expected l2tp or pptp\n", *protocol)
		return 2
	}
	if *encrypt != "auto" && *encrypt != "required" && *encrypt != "stateful" && *encrypt != "none" {
		fmt.Fprintf(os.Stderr, "vpdn dial: --mppe %q: expected auto, required, stateful or none\n", *encrypt)
		return 2
	}
	var b strings.Builder
	if *protocol == "pptp" {
		writePPTPDial(&b, firstNonEmpty(*tunnelName, "vpdn-client"), srv, *user, *password, *auth, *encrypt, refuse, routes, *iface)
	} else {
		writeL2TPDial(&b, firstNonEmpty(*tunnelName, "vpdn-client"), *tunnelPassword, srv, *user, *password, *auth, refuse, routes, *iface)
	}
	return dialRun(b.String(), srv, *user, *socket, *logLevel, *timeout)
}

// writePPTPDial is the configuration of a PPTP client: document 004's
// router client, a request-dialin vpdn-group with protocol pptp and
// interface Dialer N.
func writePPTPDial(b *strings.Builder, host string, srv netip.Addr, user, password, auth, encrypt string, refuse []string, routes routeList, iface int) {
	fmt.Fprintf(b, "hostname %s\nservice internal\nvpdn enable\n", host)
	fmt.Fprintf(b, "vpdn-group dial\n request-dialin\n  protocol pptp\n  pool-member 1\n initiate-to ip %s\n", srv)
	fmt.Fprintf(b, "interface Dialer%d\n ip address negotiated\n encapsulation ppp\n dialer pool 1\n dialer vpdn\n", iface)
	switch encrypt {
	case "auto":
		b.WriteString(" ppp encrypt mppe auto\n")
	case "required":
		b.WriteString(" ppp encrypt mppe auto required\n")
	case "stateful":
		b.WriteString(" ppp encrypt mppe auto required stateful\n")
	}
	writeDialPPP(b, user, password, auth, refuse)
	for _, r := range routes {
		fmt.Fprintf(b, "ip route %s %s Dialer%d\n", r.Addr(), maskOf(r.Bits()), iface)
	}
}

// writeDialPPP writes the client's PPP credentials and refusals.
func writeDialPPP(b *strings.Builder, user, password, auth string, refuse []string) {
	fmt.Fprintf(b, " ppp chap hostname %s\n ppp chap password 0 %s\n", user, password)
	fmt.Fprintf(b, " ppp pap sent-username %s password 0 %s\n", user, password)
	if auth == "eap" {
		// Takes part in EAP (the client refuses it otherwise); callin:
		// the client does not ask the server to authenticate itself.
		b.WriteString(" ppp authentication eap callin\n")
	}
	for _, r := range refuse {
		fmt.Fprintf(b, " ppp %s refuse\n", r)
	}
}

// writeL2TPDial is the configuration of an L2TP client: interface
// Virtual-PPP N with an L2TPv2 pseudowire (document 001).
func writeL2TPDial(b *strings.Builder, host, tunnelPassword string, srv netip.Addr, user, password, auth string, refuse []string, routes routeList, iface int) {
	fmt.Fprintf(b, "hostname %s\n", host)
	b.WriteString("vpdn l2tp listen 0.0.0.0:0\n")
	b.WriteString("l2tp-class dial\n")
	if tunnelPassword != "" {
		fmt.Fprintf(b, " authentication\n password 0 %s\n", tunnelPassword)
	}
	b.WriteString("pseudowire-class dial\n encapsulation l2tpv2\n protocol l2tpv2 dial\n")
	fmt.Fprintf(b, "interface Virtual-PPP%d\n ip address negotiated\n", iface)
	writeDialPPP(b, user, password, auth, refuse)
	fmt.Fprintf(b, " pseudowire %s 1 pw-class dial\n", srv)
	for _, r := range routes {
		fmt.Fprintf(b, "ip route %s %s Virtual-PPP%d\n", r.Addr(), maskOf(r.Bits()), iface)
	}
}

// dialRun runs the daemon on cfg in the foreground until Ctrl-C or
// SIGTERM, printing when the interface comes up; the exit status.
func dialRun(cfg string, srv netip.Addr, user, socket, logLevel string, timeout time.Duration) int {
	dir, err := os.MkdirTemp("", "vpdn-dial")
	if err != nil {
		fmt.Fprintf(os.Stderr, "vpdn dial: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	cfgPath := filepath.Join(dir, "dial.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		fmt.Fprintf(os.Stderr, "vpdn dial: %v\n", err)
		return 1
	}
	sock := socket
	if sock == "" {
		sock = filepath.Join(dir, "vpdn.sock")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "vpdn dial: --log-level %q: expected debug, info, warn or error\n", logLevel)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	up := make(chan string, 4)
	d, err := daemon.New(daemon.Options{
		ConfigPath: cfgPath, Socket: sock, Logger: logger, Debug: debug.New(),
		OnInterfaceUp: func(name string, local, peer netip.Addr, dns []netip.Addr) {
			line := fmt.Sprintf("%s is up: address %s, peer %s", longName(name), local, peer)
			if len(dns) > 0 {
				line += fmt.Sprintf(", DNS %v", dns)
			}
			up <- line
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "vpdn dial: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	runErr := make(chan error, 1)
	go func() { runErr <- d.Run(ctx) }()
	fmt.Printf("dialling %s as %s ...\n", srv, user)
	var deadline <-chan time.Time
	if timeout > 0 {
		deadline = time.After(timeout)
	}
	for {
		select {
		case line := <-up:
			fmt.Println(line)
			deadline = nil
		case <-deadline:
			fmt.Fprintf(os.Stderr, "vpdn dial: not connected after %v\n", timeout)
			stop()
			<-runErr
			return 1
		case err := <-runErr:
			if err != nil {
				fmt.Fprintf(os.Stderr, "vpdn dial: %v\n", err)
				return 1
			}
			fmt.Println("disconnected")
			return 0
		}
	}
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func maskOf(bits int) string {
	m := ^uint32(0) << (32 - bits)
	if bits == 0 {
		m = 0
	}
	return netip.AddrFrom4([4]byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}).String()
}

func longName(short string) string {
	switch {
	case strings.HasPrefix(short, "Vp"):
		return "Virtual-PPP" + short[2:]
	case strings.HasPrefix(short, "Di"):
		return "Dialer" + short[2:]
	}
	return short
}
