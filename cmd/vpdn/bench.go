package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/vpdn/vpdn/loadgen"
)

// runBench is the load generator of issue 6: T emulated LACs, S sessions
// each, full L2TP and PPP client set-up against an LNS, and a report.
// Each LAC has its own UDP socket (see package loadgen). With --protocol
// pptp (issue 10) the T × S sessions are PC-style PPTP clients, each with
// its own TCP control connection and call, their GRE on one raw socket.
func runBench(args []string) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	protocol := fs.String("protocol", "l2tp", "l2tp (emulated LACs) or pptp (a TCP control connection and a call per session)")
	server := fs.String("server", "", "the LNS or PPTP server, ADDRESS or ADDRESS:PORT (port 1701 by default, 1723 with pptp; required)")
	tunnels := fs.Int("tunnels", 1, "emulated LACs, one tunnel each")
	sessions := fs.Int("sessions", 1, "sessions per tunnel")
	user := fs.String("user", "", "PPP user name (required)")
	password := fs.String("password", "", "PPP password (required)")
	auth := fs.String("auth", "", "accept only this authentication: pap, chap or ms-chap-v2 (default: any the server asks for but EAP; ms-chap-v2 with pptp)")
	encrypt := fs.String("mppe", "auto", "PPTP: MPPE encryption, auto (offer 40 and 128 bits) or none")
	opening := fs.Int("max-opening", 0, "tunnels (l2tp) or control connections with their call (pptp) being opened at once (0: 8 for l2tp, 64 for pptp)")
	rate := fs.Float64("rate", 0, "arrival rate in sessions per second (0: as fast as the in-flight cap allows)")
	inflight := fs.Int("max-in-flight", 256, "sessions being set up at once")
	dialsPerTunnel := fs.Int("max-dials-per-tunnel", 0, "calls placed at once on each tunnel (0: half the LNS's receive window, at least 1)")
	hold := fs.Duration("hold", 0, "how long to keep the sessions up before tearing them down")
	tunnelPassword := fs.String("tunnel-password", "", "L2TP tunnel password, when the LNS authenticates tunnels")
	tunnelName := fs.String("tunnel-name", "LAC", "the host name announced in the L2TP tunnels")
	timeout := fs.Duration("timeout", 30*time.Second, "per-session set-up timeout (ICRQ to IPCP open)")
	asJSON := fs.Bool("json", false, "print the report as one JSON object")
	source := fs.String("source", "", "local address to send from (default: chosen by the kernel)")
	logLevel := fs.String("log-level", "warn", "log level: debug, info, warn, error")
	cpuProfile := fs.String("cpuprofile", "", "write a Go CPU profile of the generator to FILE")
	trafficEvery := fs.Duration("traffic-interval", 0, "during the hold, every session pings through its tunnel at this interval (0: no traffic)")
	trafficSize := fs.Int("traffic-size", 84, "IP size of the pings, 28 to 1460 octets")
	trafficTarget := fs.String("traffic-target", "", "address to ping (default: the LNS's own address from IPCP)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *cpuProfile != "" {
		stopProfile, err := startCPUProfile(*cpuProfile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "vpdn bench: %v\n", err)
			return 1
		}
		defer stopProfile()
	}
	if *server == "" || *user == "" || *password == "" || fs.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: vpdn bench --server ADDR[:PORT] --tunnels T --sessions S --user U --password P [--protocol l2tp|pptp] [--mppe auto|none] [--max-opening N] [--auth pap|chap|ms-chap-v2] [--rate N] [--max-in-flight N] [--max-dials-per-tunnel N] [--hold D] [--tunnel-password X] [--tunnel-name NAME] [--timeout D] [--json] [--source ADDR] [--traffic-interval D [--traffic-size N] [--traffic-target A]]")
		return 2
	}
	port := uint16(1701)
	switch *protocol {
	case loadgen.ProtoL2TP:
	case loadgen.ProtoPPTP:
		port = 1723
	default:
		fmt.Fprintf(os.Stderr, "vpdn bench: --protocol %q: expected l2tp or pptp\n", *protocol)
		return 2
	}
	mppeCfg, err := loadgen.ParseMPPE(*encrypt)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vpdn bench: --mppe %q: expected auto or none\n", *encrypt)
		return 2
	}
	if *protocol != loadgen.ProtoPPTP {
		mppeCfg.Strengths = 0 // --mppe is for PPTP
	}
	srv, err := netip.ParseAddrPort(*server)
	if err != nil {
		a, err2 := netip.ParseAddr(*server)
		if err2 != nil {
			fmt.Fprintf(os.Stderr, "vpdn bench: --server %q: expected ADDRESS or ADDRESS:PORT\n", *server)
			return 2
		}
		srv = netip.AddrPortFrom(a, port)
	}
	method, err := loadgen.ParseAuth(*auth)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vpdn bench: --auth %q: expected pap, chap or ms-chap-v2\n", *auth)
		return 2
	}
	local := netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	if *source != "" {
		a, err := netip.ParseAddr(*source)
		if err != nil {
			fmt.Fprintf(os.Stderr, "vpdn bench: --source %q: expected an address\n", *source)
			return 2
		}
		local = netip.AddrPortFrom(a, 0)
	}
	var target netip.Addr
	if *trafficTarget != "" {
		a, err := netip.ParseAddr(*trafficTarget)
		if err != nil || !a.Is4() {
			fmt.Fprintf(os.Stderr, "vpdn bench: --traffic-target %q: expected an IPv4 address\n", *trafficTarget)
			return 2
		}
		target = a
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "vpdn bench: --log-level %q: expected debug, info, warn or error\n", *logLevel)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	cfg := loadgen.Config{
		Protocol: *protocol, MPPE: mppeCfg, MaxOpeningTunnels: *opening,
		Server: srv, Tunnels: *tunnels, Sessions: *sessions, User: *user, Password: *password, Auth: method,
		TunnelName: *tunnelName, Rate: *rate, MaxInFlight: *inflight, MaxDialsPerTunnel: *dialsPerTunnel, Hold: *hold, Timeout: *timeout, Logger: logger,
		Local:   local,
		Traffic: loadgen.Traffic{Interval: *trafficEvery, Size: *trafficSize, Target: target},
		Progress: func(p loadgen.Progress) {
			fmt.Fprintf(os.Stderr, "%4ds  established %d  failed %d  in flight %d\n", int(p.Elapsed.Seconds()), p.Established, p.Failed, p.InFlight)
		},
	}
	if *tunnelPassword != "" {
		cfg.TunnelSecret = []byte(*tunnelPassword)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	rep, err := loadgen.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vpdn bench: %v\n", err)
		return 1
	}
	if *asJSON {
		b, _ := json.Marshal(rep)
		fmt.Println(string(b))
	} else {
		fmt.Print(rep.String())
	}
	// Exit status 1 when a session failed, or carried pings and got no
	// reply: what a smoke test needs.
	if rep.Failed > 0 || rep.Traffic.Unanswered > 0 {
		return 1
	}
	return 0
}
