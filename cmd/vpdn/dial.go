package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
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
	cpuProfile := fs.String("cpuprofile", "", "write a Go CPU profile of the whole run to FILE (for `go tool pprof`)")
	ipv6 := fs.Bool("ipv6", false, "negotiate IPv6CP and take an address from the server's Router Advertisement (SLAAC): ipv6 enable, ipv6 address autoconfig")
	ipv6Default := fs.Bool("ipv6-default-route", false, "with --ipv6: also a default IPv6 route through the session (ipv6 address autoconfig default)")
	ipv6PD := fs.Bool("ipv6-pd", false, "with --ipv6: ask for delegated prefixes by DHCPv6 (ipv6 dhcp client pd PD rapid-commit)")
	ipsecPSK := fs.String("ipsec-psk", "", "L2TP over IPsec (L2TP/IPsec, RFC 3193): the IKEv1 pre-shared key; ESP transport mode protects the L2TP tunnel, NAT-T when a NAT is found")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *server == "" || *user == "" || *password == "" || fs.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: vpdn dial --server ADDRESS --user NAME --password PASSWORD [--protocol l2tp|pptp] [--mppe auto|required|stateful|none] [--tunnel-name NAME] [--auth METHOD] [--tunnel-password PASSWORD] [--ipsec-psk KEY] [--ipv6 [--ipv6-default-route] [--ipv6-pd]] [--route PREFIX]...")
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
	if *ipsecPSK != "" && *protocol != "l2tp" {
		fmt.Fprintln(os.Stderr, "vpdn dial: --ipsec-psk protects L2TP only (--protocol l2tp)")
		return 2
	}
	if strings.ContainsAny(*ipsecPSK, " \t\n") {
		fmt.Fprintln(os.Stderr, "vpdn dial: --ipsec-psk must not contain spaces")
		return 2
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "vpdn dial: %v\n", err)
			return 1
		}
		defer stop()
	}
	var b strings.Builder
	if *protocol == "pptp" {
		writePPTPDial(&b, firstNonEmpty(*tunnelName, "vpdn-client"), srv, *user, *password, *auth, *encrypt, refuse, routes, *iface)
	} else {
		writeL2TPDial(&b, firstNonEmpty(*tunnelName, "vpdn-client"), *tunnelPassword, srv, *user, *password, *auth, refuse, routes, *iface)
		if *ipsecPSK != "" {
			local, err := sourceFor(srv)
			if err != nil {
				fmt.Fprintf(os.Stderr, "vpdn dial: no route to %s: %v\n", srv, err)
				return 1
			}
			writeIPsecDial(&b, srv, local, *ipsecPSK)
		}
	}
	cfg := b.String()
	if *ipv6 || *ipv6Default || *ipv6PD {
		// The client interface is the one with ip address negotiated.
		v6 := " ipv6 enable\n ipv6 address autoconfig\n"
		if *ipv6Default {
			v6 = " ipv6 enable\n ipv6 address autoconfig default\n"
		}
		if *ipv6PD {
			v6 += " ipv6 dhcp client pd PD rapid-commit\n"
		}
		cfg = strings.Replace(cfg, "\n ip address negotiated\n", "\n ip address negotiated\n"+v6, 1)
	}
	return dialRun(cfg, srv, *user, *socket, *logLevel, *timeout, *ipsecPSK != "")
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

// sourceFor is the address this host sends to srv from (a route lookup:
// connecting a UDP socket sends nothing).
func sourceFor(srv netip.Addr) (netip.Addr, error) {
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(srv, 1701)))
	if err != nil {
		return netip.Addr{}, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap(), nil
}

// writeIPsecDial adds L2TP/IPsec to an L2TP client's configuration: the
// crypto map of document 004's "L2TPv2 over IPSec" LAC with the server
// as its peer, protecting udp 1701 between the two addresses in
// transport mode, with the proposals a Windows or macOS client makes
// (main mode with a pre-shared key: AES-256, AES-128 or 3DES with SHA-1,
// MODP 2048 or 1024; ESP AES-256, AES-128 or 3DES with HMAC-SHA1), and
// last AES-GCM-128 (RFC 4106) for servers that prefer it. NAT-T
// needs nothing more: NAT-D finds the NAT and IKE floats to 4500. The
// L2TP socket is port 1701 of the address that reaches the server.
func writeIPsecDial(b *strings.Builder, srv, local netip.Addr, psk string) {
	fmt.Fprintf(b, "vpdn l2tp listen %s:1701\n", local)
	for i, p := range []string{"aes 256\n hash sha\n group 14", "aes 256\n hash sha\n group 2", "aes\n hash sha\n group 2", "3des\n hash sha\n group 2"} {
		fmt.Fprintf(b, "crypto isakmp policy %d\n encr %s\n authentication pre-share\n", (i+1)*10, p)
	}
	fmt.Fprintf(b, "crypto isakmp key %s address %s\n", psk, srv)
	for _, t := range []string{"AES256 esp-aes 256 esp-sha-hmac", "AES128 esp-aes esp-sha-hmac", "3DES esp-3des esp-sha-hmac", "GCM128 esp-gcm 128"} {
		fmt.Fprintf(b, "crypto ipsec transform-set L2TP-%s\n mode transport\n", t)
	}
	fmt.Fprintf(b, "crypto map L2TP-IPSEC 10 ipsec-isakmp\n set peer %s\n set transform-set L2TP-AES256 L2TP-AES128 L2TP-3DES L2TP-GCM128\n match address L2TP-IPSEC\n", srv)
	fmt.Fprintf(b, "ip access-list extended L2TP-IPSEC\n permit udp host %s eq 1701 host %s eq 1701\n", local, srv)
	fmt.Fprintf(b, "interface Ethernet0/0\n ip address %s 255.255.255.255\n crypto map L2TP-IPSEC\n", local)
}

// Exit statuses of vpdn dial beyond 0 (disconnected), 1 (not connected,
// or an error) and 2 (usage).
const exitIPsec = 3 // IKE with the server failed (--ipsec-psk)

// dialRun runs the daemon on cfg in the foreground until Ctrl-C or
// SIGTERM, printing when the interface comes up; the exit status.
func dialRun(cfg string, srv netip.Addr, user, socket, logLevel string, timeout time.Duration, ipsec bool) int {
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
	ikeFailed := make(chan string, 1)
	var onIPsec func(netip.Addr, string, string)
	if ipsec {
		onIPsec = func(peer netip.Addr, state, reason string) {
			msg := fmt.Sprintf("IKE with %s failed: %s", peer, reason)
			if state != "" {
				msg += " in " + state
			}
			switch {
			case state == "MM_KEY_EXCH" || strings.Contains(reason, "authentication"):
				msg += " (the server did not accept our proof of the key: is --ipsec-psk the server's pre-shared key?)"
			case state == "MM_NO_STATE" || state == "MM_SA_SETUP":
				msg += " (no IKE answer from the server: is it an L2TP/IPsec server, and are UDP 500 and 4500 open?)"
			case state == "QM":
				msg += " (the server refused our IPsec proposals for L2TP)"
			}
			select {
			case ikeFailed <- msg:
			default:
			}
		}
	}
	d, err := daemon.New(daemon.Options{
		ConfigPath: cfgPath, Socket: sock, Logger: logger, Debug: debug.New(), OnIPsecFailure: onIPsec,
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
		case msg := <-ikeFailed:
			if deadline == nil {
				continue // connected already: the daemon renegotiates
			}
			fmt.Fprintf(os.Stderr, "vpdn dial: %s\n", msg)
			stop()
			<-runErr
			return exitIPsec
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
