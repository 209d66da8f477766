package peers

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// PPTP peers: pptpd (Poptop) answers Outgoing-Call-Requests, the RFC 2637
// PAC role on the wire, and pptp-linux places them. Both hand PPP to pppd
// over a pty, and pppd cannot run here (no /dev/ppp), so both get
// pppstdio (internal/peers/pppstdio, vpdn's PPP engine on a byte stream
// in async HDLC) in its place: pptpd through -e, pptp-linux with
// --nolaunchpppd under pppstdio -pty, as pppd's `pty` option would run it.
// The test builds pppstdio (nstest.GoBuild) and passes its path.
//
// pptpd and pptp-linux log only to syslog. There is no syslog daemon
// here, and /dev/log is a fixed path, so each runs in a private mount
// namespace (unshare) whose /dev is a small tmpfs holding the few device
// nodes they need and a /dev/log symlink to a datagram socket this
// package reads into the daemon's log file. The host's /dev is untouched.

// Lines found by running pptpd 1.4.0 and pptp-linux 1.10.0 (syslog
// prefix removed). The address that follows is the peer's.
const (
	// PPTPDControlUp is logged by pptpctrl when a client's control
	// connection starts: "CTRL: Client 198.18.0.1 control connection
	// started".
	PPTPDControlUp = "control connection started"
	// PPTPDCallUp is logged by pptpctrl when it answers an
	// Outgoing-Call-Request and starts the PPP program: "CTRL: Starting
	// call (launching pppd, opening GRE)".
	PPTPDCallUp = "Starting call (launching pppd, opening GRE)"
	// PPTPDControlDown is logged when the control connection ends:
	// "CTRL: Client 198.18.0.1 control connection finished".
	PPTPDControlDown = "control connection finished"
	// PPTPCallUp is logged by pptp-linux when its Outgoing-Call-Request
	// is answered: "anon log[ctrlp_disp:pptp_ctrl.c:939]: Outgoing call
	// established (call ID 3106, peer's call ID 34660)."
	PPTPCallUp = "Outgoing call established"
	// PPTPGREAccepted is logged by pptp-linux (--loglevel 2) for each GRE
	// packet it passes to PPP: "anon log[decaps_gre:pptp_gre.c:416]:
	// accepting packet 0".
	PPTPGREAccepted = "decaps_gre"
	// PPTPDGREAccepted is logged by pptpd (-d) for each GRE packet it
	// passes to PPP: "GRE: accepting packet #0".
	PPTPDGREAccepted = "GRE: accepting packet"
	// PPPStdioUp is logged by pppstdio when IPCP opens: "pppstdio: IPCP
	// up local A peer B on ppp0 (auth MS-CHAP-V2, user "labuser")".
	PPPStdioUp = "pppstdio: IPCP up local "
	// PPPStdioDown is logged by pppstdio when the link ends.
	PPPStdioDown = "pppstdio: link down: "
)

// PPTPConfig configures the PPP side of a PPTP peer: the pppstdio
// stand-in and the account.
type PPTPConfig struct {
	// StandIn is the path of the built pppstdio program (required).
	StandIn string
	// User is the account pppstdio accepts (pptpd) or sends (pptp-linux);
	// zero: LabUser.
	User User
	// Auth is the method pppstdio asks of the peer in pptpd's role:
	// "ms-chap-v2" (default), "chap" or "pap".
	Auth string
	// Local and Remote are the addresses pptpd gives pppd ("localip",
	// "remoteip"): the stand-in's own IPCP address and the one it assigns
	// the client. Defaults 198.19.5.1 and 198.19.5.10.
	Local, Remote netip.Addr
}

func (c *PPTPConfig) defaults(tb testing.TB) {
	tb.Helper()
	if c.StandIn == "" {
		tb.Fatal("peers: PPTPConfig.StandIn (the pppstdio binary) is required")
	}
	if c.User.Name == "" && c.User.Password == "" {
		c.User = LabUser
	}
	if c.Auth == "" {
		c.Auth = "ms-chap-v2"
	}
	if !c.Local.IsValid() {
		c.Local = netip.MustParseAddr("198.19.5.1")
	}
	if !c.Remote.IsValid() {
		c.Remote = netip.MustParseAddr("198.19.5.10")
	}
	for _, s := range []string{c.User.Name, c.User.Password, c.Auth} {
		if strings.ContainsAny(s, " \t\n'\"\\$`") {
			tb.Fatalf("peers: %q: no spaces or shell characters", s)
		}
	}
}

// PPTPPeer is a running pptpd or pptp-linux with pppstdio as its PPP.
type PPTPPeer struct {
	Daemon
	// PPPLog is pppstdio's log (also part of Log).
	PPPLog string
	// Local and Remote: pptpd's addresses (see PPTPConfig).
	Local, Remote netip.Addr
	User          User
}

// PPPUp waits up to timeout for pppstdio to log that IPCP opened and
// returns its local and peer addresses.
func (p *PPTPPeer) PPPUp(timeout time.Duration) (local, peer netip.Addr, err error) {
	line, err := p.WaitLog(PPPStdioUp, timeout)
	if err != nil {
		return local, peer, err
	}
	m := ipcpUpRE.FindStringSubmatch(line)
	if m == nil {
		return local, peer, fmt.Errorf("peers: cannot read %q", line)
	}
	local, err1 := netip.ParseAddr(m[1])
	peer, err2 := netip.ParseAddr(m[2])
	if err1 != nil || err2 != nil {
		return local, peer, fmt.Errorf("peers: cannot read %q", line)
	}
	return local, peer, nil
}

var ipcpUpRE = regexp.MustCompile(`IPCP up local (\S+) peer (\S+)`)

// PPTPD starts pptpd in ns listening on listen:1723, with pppstdio in the
// server role as its pppd (-e): it authenticates cfg.User with cfg.Auth
// and assigns the addresses pptpd passes it (localip/remoteip, one
// client). It returns once pptpd listens.
func PPTPD(tb testing.TB, lab Lab, ns NS, listen netip.Addr, cfg PPTPConfig) *PPTPPeer {
	tb.Helper()
	Require(tb, "pptpd", "pptpctrl", "unshare")
	cfg.defaults(tb)
	checkLab(tb, listen, cfg.Local, cfg.Remote)
	bin, _ := lookPath("pptpd")
	dir := mustDir(tb, filepath.Join(tb.TempDir(), "pptpd"))
	p := &PPTPPeer{
		Daemon: Daemon{Name: "pptpd", Addr: listen, Port: 1723, Dir: dir, LogPath: filepath.Join(dir, "syslog")},
		PPPLog: filepath.Join(dir, "pppstdio.log"),
		Local:  cfg.Local, Remote: cfg.Remote, User: cfg.User,
	}
	p.extraLogs = []string{p.PPPLog}
	// pptpctrl runs the program with pppd's arguments ("file OPTIONS
	// 115200 LOCAL:REMOTE ipparam ... remotenumber ..."); the wrapper
	// puts the stand-in's own flags first.
	wrapper := filepath.Join(dir, "pppd-standin")
	writeFile(tb, wrapper, fmt.Sprintf("#!/bin/sh\nexec %s -role server -auth %s -user %s -password %s -tun ppp0 -log %s -- \"$@\"\n",
		cfg.StandIn, cfg.Auth, cfg.User.Name, cfg.User.Password, p.PPPLog), 0o755)
	conf := filepath.Join(dir, "pptpd.conf")
	opts := filepath.Join(dir, "options")
	writeFile(tb, conf, fmt.Sprintf("option %s\nlocalip %s\nremoteip %s\n", opts, cfg.Local, cfg.Remote), 0o644)
	writeFile(tb, opts, "# read by pppd, which does not run here\n", 0o644)

	sock := syslogSink(tb, p.LogPath)
	begin := time.Now()
	args := privateDevLog(dir, sock, bin, "-f", "-d", "-c", conf, "-p", filepath.Join(dir, "pptpd.pid"),
		"-l", listen.String(), "-e", wrapper)
	cmd := ns.Command(args[0], args[1:]...)
	start(tb, lab, &p.Daemon, cmd, filepath.Join(dir, "stdout"))
	p.extraLogs = append(p.extraLogs, filepath.Join(dir, "stdout"))
	waitReady(tb, &p.Daemon, 10*time.Second, "a listener on TCP 1723", func() bool {
		return TCPListening(ns, listen, 1723)
	})
	p.Startup = time.Since(begin)
	return p
}

// PPTPClient starts pptp-linux in ns dialling server:1723, run by
// pppstdio in the client role on a pty (pptp --nolaunchpppd, as under
// pppd's `pty` option): pptp sends Start-Control-Connection-Request and an
// Outgoing-Call-Request, and pppstdio authenticates as cfg.User and puts
// the address IPCP gives it on a TUN, ppp0. It returns at once; PPPUp
// waits for the link.
func PPTPClient(tb testing.TB, lab Lab, ns NS, server netip.Addr, cfg PPTPConfig) *PPTPPeer {
	tb.Helper()
	Require(tb, "pptp", "unshare")
	cfg.defaults(tb)
	checkLab(tb, server)
	bin, _ := lookPath("pptp")
	dir := mustDir(tb, filepath.Join(tb.TempDir(), "pptp"))
	p := &PPTPPeer{
		Daemon: Daemon{Name: "pptp", Addr: server, Port: 1723, Dir: dir, LogPath: filepath.Join(dir, "syslog")},
		PPPLog: filepath.Join(dir, "pppstdio.log"),
		User:   cfg.User,
	}
	p.extraLogs = []string{p.PPPLog}
	sock := syslogSink(tb, p.LogPath)
	args := privateDevLog(dir, sock, cfg.StandIn, "-role", "client", "-user", cfg.User.Name, "-password", cfg.User.Password,
		"-tun", "ppp0", "-log", p.PPPLog, "-pty", "--",
		bin, server.String(), "--nolaunchpppd", "--nohostroute", "--loglevel", "2")
	cmd := ns.Command(args[0], args[1:]...)
	start(tb, lab, &p.Daemon, cmd, filepath.Join(dir, "stdout"))
	p.extraLogs = append(p.extraLogs, filepath.Join(dir, "stdout"))
	return p
}

// devScript replaces /dev, inside a private mount namespace, with a tmpfs
// holding bind mounts of the device nodes a PPTP daemon and pppstdio use
// (ptys, the TUN clone device) and /dev/log, a symlink to the socket of
// syslogSink. /dev/ptmx is a symlink to pts/ptmx, as in containers: the
// kernel finds the devpts instance of a /dev/ptmx device node by looking
// for "pts" beside it, which a bind-mounted node has not (openpty fails
// with ENOENT). $1 is a scratch directory, $2 the socket; the rest is the
// command.
const devScript = `set -e
real="$1/realdev"; sock="$2"; shift 2
mkdir -p "$real"
mount --rbind /dev "$real"
mount -t tmpfs -o mode=0755,size=1m vpdn-dev /dev
for n in null zero full random urandom tty; do
	if [ -e "$real/$n" ]; then : > "/dev/$n"; mount --bind "$real/$n" "/dev/$n"; fi
done
mkdir /dev/pts /dev/net /dev/shm
mount --rbind "$real/pts" /dev/pts
if [ -e "$real/net/tun" ]; then : > /dev/net/tun; mount --bind "$real/net/tun" /dev/net/tun; fi
ln -s pts/ptmx /dev/ptmx
ln -s /proc/self/fd /dev/fd
ln -s "$sock" /dev/log
exec "$@"
`

// privateDevLog returns the command line that runs argv in a private
// mount namespace with devScript's /dev.
func privateDevLog(dir, sock string, argv ...string) []string {
	return append([]string{"unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", devScript, "sh", dir, sock}, argv...)
}

// syslogSink binds a datagram socket for syslog(3) messages and appends
// each, without its <PRI> prefix, as a line to logPath until the test
// ends. It returns the socket's path.
func syslogSink(tb testing.TB, logPath string) string {
	tb.Helper()
	// A socket path is at most 107 octets: a short directory of its own.
	dir, err := os.MkdirTemp("", "vpdn-syslog")
	if err != nil {
		tb.Fatalf("peers: %v", err)
	}
	path := filepath.Join(dir, "log")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		os.RemoveAll(dir)
		tb.Fatalf("peers: syslog socket: %v", err)
	}
	f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		conn.Close()
		os.RemoveAll(dir)
		tb.Fatalf("peers: %v", err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 8192)
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			msg := string(buf[:n])
			// "<PRI>": one to three digits (RFC 3164 §4.1.1).
			if i := strings.IndexByte(msg, '>'); msg != "" && msg[0] == '<' && i >= 2 && i <= 4 &&
				strings.Trim(msg[1:i], "0123456789") == "" {
				msg = msg[i+1:]
			}
			f.WriteString(strings.TrimRight(msg, "\n\x00") + "\n")
		}
	}()
	tb.Cleanup(func() {
		conn.Close()
		wg.Wait()
		f.Close()
		os.RemoveAll(dir)
	})
	return path
}
