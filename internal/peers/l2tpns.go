package peers

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// L2TPNSMaster is the line l2tpns logs once it serves: a lone l2tpns waits
// for a cluster master, holds an election when none answers (about three
// seconds) and declares itself master. It ignores SCCRQs before that.
const L2TPNSMaster = "I am declaring myself the master!"

// Lines l2tpns (2.4.1) logs at debug level 3, found by running it; "02/00"
// before them is tunnel/session.
const (
	// L2TPNSNewTunnel: "New tunnel from 198.18.0.1:36059 ID 2".
	L2TPNSNewTunnel = "New tunnel from "
	// L2TPNSSentSCCRP: "sending SCCRP" (after "Received SCCRQ").
	L2TPNSSentSCCRP = "sending SCCRP"
	// L2TPNSStopCCN: "Received StopCCN", then "Shutting down tunnel 2
	// (Stopped)".
	L2TPNSStopCCN = "Received StopCCN"
)

// l2tpnsEtc is the directory l2tpns reads ip_pool and users from; the
// path is compiled into the binary.
const l2tpnsEtc = "/etc/l2tpns"

// L2TPNSOption changes the startup-config L2TPNS writes.
type L2TPNSOption func(*l2tpnsConfig)

type l2tpnsConfig struct {
	secret  string
	peer    netip.Addr
	pool    netip.Prefix
	tun     string
	debug   int
	authtys string
	extra   []string
}

// L2TPNSSecret sets l2tp_secret, the tunnel secret l2tpns uses if a LAC
// sends a Challenge (default "secret").
func L2TPNSSecret(s string) L2TPNSOption { return func(c *l2tpnsConfig) { c.secret = s } }

// L2TPNSPool sets the one line of ip_pool (default 198.19.0.64/26).
func L2TPNSPool(p netip.Prefix) L2TPNSOption { return func(c *l2tpnsConfig) { c.pool = p } }

// L2TPNSGateway sets peer_address, the address l2tpns gives as its own in
// IPCP (default 198.19.0.1).
func L2TPNSGateway(a netip.Addr) L2TPNSOption { return func(c *l2tpnsConfig) { c.peer = a } }

// L2TPNSDebug sets the debug level 0..5 (default 3: tunnels, sessions,
// RADIUS; 4 and 5 add packet dumps).
func L2TPNSDebug(level int) L2TPNSOption { return func(c *l2tpnsConfig) { c.debug = level } }

// L2TPNSAuthTypes sets radius_authtypes (default "pap,chap"; the first is
// offered first).
func L2TPNSAuthTypes(s string) L2TPNSOption { return func(c *l2tpnsConfig) { c.authtys = s } }

// L2TPNSLines appends raw "set ..." lines to startup-config.
func L2TPNSLines(lines ...string) L2TPNSOption {
	return func(c *l2tpnsConfig) { c.extra = append(c.extra, lines...) }
}

// L2TPNSPeer is a running l2tpns.
type L2TPNSPeer struct {
	Daemon
	Secret     string       // l2tp_secret
	Pool       netip.Prefix // ip_pool
	Gateway    netip.Addr   // peer_address
	TunDevice  string       // its TUN device inside the namespace
	ConfigDir  string       // what the daemon sees as /etc/l2tpns
	OutputPath string       // its stdout and stderr
	RADIUS     *FreeRADIUSPeer
	Users      []User // the users RADIUS accepts
}

// L2TPNS starts l2tpns, a user-space LNS, inside ns with UDP 1701 bound
// on bind (bind_address) and its TUN device "l2tpns0". It authenticates
// PPP through radius, which must run in the same namespace (FreeRADIUS
// started on ns). /etc/l2tpns is replaced, for l2tpns only, by a private
// directory: the command is `unshare -m` and bind-mounts it there before
// exec'ing l2tpns (so does /var/lib/l2tpns). It returns once l2tpns
// declared itself cluster master (about 3 s) and has the port bound.
func L2TPNS(tb testing.TB, lab Lab, ns NS, bind netip.Addr, radius *FreeRADIUSPeer, opts ...L2TPNSOption) *L2TPNSPeer {
	tb.Helper()
	Require(tb, "l2tpns", "unshare", "mount", "ss")
	bin, _ := lookPath("l2tpns")
	if radius == nil {
		tb.Fatal("peers: L2TPNS needs a FreeRADIUS beside it")
	}
	c := l2tpnsConfig{
		secret:  "secret",
		peer:    netip.MustParseAddr("198.19.0.1"),
		pool:    netip.MustParsePrefix("198.19.0.64/26"),
		tun:     "l2tpns0",
		debug:   3,
		authtys: "pap,chap",
	}
	for _, o := range opts {
		o(&c)
	}
	checkLab(tb, bind, c.peer, c.pool.Addr())
	dir := mustDir(tb, filepath.Join(tb.TempDir(), "l2tpns"))
	etc := mustDir(tb, filepath.Join(dir, "etc"))
	state := mustDir(tb, filepath.Join(dir, "state"))
	p := &L2TPNSPeer{
		Daemon: Daemon{
			Name:    "l2tpns",
			Addr:    bind,
			Port:    1701,
			Dir:     dir,
			LogPath: filepath.Join(dir, "l2tpns.log"),
		},
		Secret:     c.secret,
		Pool:       c.pool,
		Gateway:    c.peer,
		TunDevice:  c.tun,
		ConfigDir:  etc,
		OutputPath: filepath.Join(dir, "l2tpns.out"),
		RADIUS:     radius,
		Users:      radius.Users,
	}
	p.extraLogs = []string{p.OutputPath}
	var sc strings.Builder
	set := func(k, v string) { fmt.Fprintf(&sc, "set %s %s\n", k, v) }
	q := func(s string) string { return `"` + s + `"` }
	set("debug", fmt.Sprint(c.debug))
	set("l2tp_secret", q(c.secret))
	set("primary_radius", radius.Addr.String())
	set("radius_secret", q(radius.Secret))
	set("radius_authtypes", q(c.authtys))
	set("radius_accounting", "yes")
	set("bind_address", bind.String())
	set("cli_bind_address", "127.0.0.1")
	set("peer_address", c.peer.String())
	set("tundevicename", q(c.tun))
	// Without it l2tpns exits: "Failed to get interface address for (eth0)".
	set("cluster_interface", q("lo"))
	set("cluster_hb_timeout", "20")
	set("log_file", q(p.LogPath))
	set("pid_file", q(filepath.Join(dir, "l2tpns.pid")))
	for _, l := range c.extra {
		sc.WriteString(l + "\n")
	}
	config := filepath.Join(etc, "startup-config")
	writeFile(tb, config, sc.String(), 0o644)
	writeFile(tb, filepath.Join(etc, "ip_pool"), c.pool.String()+"\n", 0o644)
	// users holds the accounts of its command line interface.
	writeFile(tb, filepath.Join(etc, "users"), "admin:admin\n", 0o600)

	// The mounts are made in a mount namespace of l2tpns's own (unshare
	// -m, private propagation): nothing is mounted on the host.
	script := fmt.Sprintf("mount --bind %s %s && { [ ! -d /var/lib/l2tpns ] || mount --bind %s /var/lib/l2tpns; } && exec %s -c %s",
		shQuote(etc), l2tpnsEtc, shQuote(state), bin, shQuote(config))
	begin := time.Now()
	cmd := ns.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script)
	start(tb, lab, &p.Daemon, cmd, p.OutputPath)
	waitReady(tb, &p.Daemon, 20*time.Second, fmt.Sprintf("%q and UDP %s:1701 bound", L2TPNSMaster, bind), func() bool {
		return strings.Contains(p.Log(), L2TPNSMaster) && UDPBound(ns, bind, 1701)
	})
	p.Startup = time.Since(begin)
	return p
}

// shQuote quotes s for sh(1).
func shQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
