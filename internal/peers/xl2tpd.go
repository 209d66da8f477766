package peers

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Lines xl2tpd (1.3.18) logs, found by running it. The address that
// follows is the peer's.
const (
	// XL2TPDListening is logged once the UDP socket is bound:
	// "Listening on IP address 198.18.0.2, port 1701".
	XL2TPDListening = "Listening on IP address "
	// XL2TPDTunnelUp is logged by both roles when SCCRP/SCCCN completes:
	// "Connection established to 198.18.0.1, 1701.  Local: 36982,
	// Remote: 61378 (ref=0/0).  LNS session is 'default'" (the last
	// sentence by an LNS only).
	XL2TPDTunnelUp = "Connection established to "
	// XL2TPDCallUp is logged by both roles when ICRQ/ICRP/ICCN completes:
	// "Call established with 198.18.0.1, PID: 28136, Local: 18193,
	// Remote: 44471, Serial: 1" (an LNS names its pppd's PID).
	XL2TPDCallUp = "Call established with "
	// XL2TPDTunnelClosed is logged by both roles when a StopCCN arrives
	// ("control_finish: Connection closed to 198.18.0.1, port 53389 (),
	// Local: 26244, Remote: 4242") or a call is cleared ("control_finish:
	// Connection closed to 198.18.0.2, serial 1 ()").
	XL2TPDTunnelClosed = "Connection closed to "
	// XL2TPDCallClosed is logged by an LNS when a call is cleared:
	// "call_close: Call 18193 to 198.18.0.1 disconnected".
	XL2TPDCallClosed = "call_close: Call "
	// XL2TPDPPPFailed is logged when pppd exits, which it always does
	// here (no /dev/ppp): "child_handler : pppd exited for call 44471
	// with code 4".
	XL2TPDPPPFailed = "pppd exited for call"
)

// XL2TPDOption changes the configuration XL2TPDLNS and XL2TPDLAC write.
type XL2TPDOption func(*xl2tpdConfig)

type xl2tpdConfig struct {
	hostname string
	secret   string
	port     uint16
	first    netip.Addr // LNS: ip range
	last     netip.Addr
	localIP  netip.Addr // LNS: local ip
	lacName  string     // LAC: the [lac NAME] section
	extra    []string   // more lines for the lns/lac section
	global   []string   // more lines for [global]
}

// TunnelSecret makes the tunnel authenticated (RFC 2661 section 5.1.1,
// Challenge AVPs): it writes "* * SECRET" in the secrets file and sets
// "challenge = yes" in the section.
func TunnelSecret(secret string) XL2TPDOption {
	return func(c *xl2tpdConfig) { c.secret = secret }
}

// Hostname sets the Host Name AVP xl2tpd sends ("hostname = NAME").
func Hostname(name string) XL2TPDOption {
	return func(c *xl2tpdConfig) { c.hostname = name }
}

// IPRange sets the LNS's "ip range = FIRST-LAST" (default
// 198.19.0.10-198.19.0.20).
func IPRange(first, last netip.Addr) XL2TPDOption {
	return func(c *xl2tpdConfig) { c.first, c.last = first, last }
}

// LocalIP sets the LNS's "local ip" (default 198.19.0.1).
func LocalIP(a netip.Addr) XL2TPDOption {
	return func(c *xl2tpdConfig) { c.localIP = a }
}

// LACName names the LAC section, the name Dial uses (default "lab").
func LACName(name string) XL2TPDOption {
	return func(c *xl2tpdConfig) { c.lacName = name }
}

// SectionLines appends raw "key = value" lines to the lns or lac section.
func SectionLines(lines ...string) XL2TPDOption {
	return func(c *xl2tpdConfig) { c.extra = append(c.extra, lines...) }
}

// GlobalLines appends raw "key = value" lines to the [global] section
// (for instance "debug tunnel = yes", "debug avp = yes").
func GlobalLines(lines ...string) XL2TPDOption {
	return func(c *xl2tpdConfig) { c.global = append(c.global, lines...) }
}

// XL2TPDPeer is a running xl2tpd.
type XL2TPDPeer struct {
	Daemon
	Role        string // "lns" or "lac"
	Hostname    string // the Host Name AVP it sends
	Secret      string // the tunnel secret, "" when none
	ConfigPath  string
	SecretsPath string
	ControlPath string // the control FIFO (-C)
	// LNS only: the pool and local address it hands to pppd.
	RangeFirst, RangeLast, LocalIP netip.Addr
	// LAC only: the section name and the LNS it dials.
	LACName string
	LNS     netip.Addr
}

// XL2TPDLNS starts xl2tpd as an LNS listening on listen:1701 inside ns
// ("[lns default]" with "require authentication = no", so pppd would not
// authenticate; pppd fails anyway here). It returns once xl2tpd logged
// that it listens and the control FIFO exists.
func XL2TPDLNS(tb testing.TB, lab Lab, ns NS, listen netip.Addr, opts ...XL2TPDOption) *XL2TPDPeer {
	tb.Helper()
	c := xl2tpdConfig{
		hostname: "labLNS",
		port:     1701,
		first:    netip.MustParseAddr("198.19.0.10"),
		last:     netip.MustParseAddr("198.19.0.20"),
		localIP:  netip.MustParseAddr("198.19.0.1"),
	}
	for _, o := range opts {
		o(&c)
	}
	checkLab(tb, listen, c.first, c.last, c.localIP)
	var sec strings.Builder
	sec.WriteString("[lns default]\n")
	fmt.Fprintf(&sec, "ip range = %s-%s\n", c.first, c.last)
	fmt.Fprintf(&sec, "local ip = %s\n", c.localIP)
	sec.WriteString("require authentication = no\n")
	p := startXL2TPD(tb, lab, ns, "lns", listen, &c, sec.String())
	p.RangeFirst, p.RangeLast, p.LocalIP = c.first, c.last, c.localIP
	return p
}

// XL2TPDLAC starts xl2tpd as a LAC whose section (default "[lac lab]")
// dials lns:1701 with "redial = no". It listens on listen:1701 itself. It
// does not dial until Dial is called.
func XL2TPDLAC(tb testing.TB, lab Lab, ns NS, listen, lns netip.Addr, opts ...XL2TPDOption) *XL2TPDPeer {
	tb.Helper()
	c := xl2tpdConfig{hostname: "labLAC", port: 1701, lacName: "lab"}
	for _, o := range opts {
		o(&c)
	}
	checkLab(tb, listen, lns)
	if strings.ContainsAny(c.lacName, " \t\n]") || c.lacName == "" {
		tb.Fatalf("peers: bad LAC section name %q", c.lacName)
	}
	var sec strings.Builder
	fmt.Fprintf(&sec, "[lac %s]\n", c.lacName)
	fmt.Fprintf(&sec, "lns = %s\n", lns)
	sec.WriteString("redial = no\n")
	sec.WriteString("autodial = no\n")
	p := startXL2TPD(tb, lab, ns, "lac", listen, &c, sec.String())
	p.LACName, p.LNS = c.lacName, lns
	return p
}

func startXL2TPD(tb testing.TB, lab Lab, ns NS, role string, listen netip.Addr, c *xl2tpdConfig, section string) *XL2TPDPeer {
	tb.Helper()
	Require(tb, "xl2tpd")
	bin, _ := lookPath("xl2tpd")
	dir := mustDir(tb, filepath.Join(tb.TempDir(), "xl2tpd-"+role))
	p := &XL2TPDPeer{
		Daemon: Daemon{
			Name:    "xl2tpd-" + role,
			Addr:    listen,
			Port:    c.port,
			Dir:     dir,
			LogPath: filepath.Join(dir, "xl2tpd.log"),
		},
		Role:        role,
		Hostname:    c.hostname,
		Secret:      c.secret,
		ConfigPath:  filepath.Join(dir, "xl2tpd.conf"),
		SecretsPath: filepath.Join(dir, "l2tp-secrets"),
		ControlPath: filepath.Join(dir, "l2tp-control"),
	}
	var conf strings.Builder
	conf.WriteString("[global]\n")
	fmt.Fprintf(&conf, "listen-addr = %s\n", listen)
	fmt.Fprintf(&conf, "port = %d\n", c.port)
	fmt.Fprintf(&conf, "auth file = %s\n", p.SecretsPath)
	for _, l := range c.global {
		conf.WriteString(l + "\n")
	}
	conf.WriteString("\n" + section)
	fmt.Fprintf(&conf, "hostname = %s\n", c.hostname)
	if c.secret != "" {
		conf.WriteString("challenge = yes\n")
	} else {
		conf.WriteString("challenge = no\n")
	}
	for _, l := range c.extra {
		conf.WriteString(l + "\n")
	}
	writeFile(tb, p.ConfigPath, conf.String(), 0o644)
	secrets := ""
	if c.secret != "" {
		// l2tp-secrets(5): our hostname, the peer's hostname, the secret.
		secrets = fmt.Sprintf("* * %s\n", c.secret)
	}
	writeFile(tb, p.SecretsPath, secrets, 0o600)

	begin := time.Now()
	cmd := ns.Command(bin, "-D",
		"-c", p.ConfigPath,
		"-s", p.SecretsPath,
		"-p", filepath.Join(dir, "xl2tpd.pid"),
		"-C", p.ControlPath)
	start(tb, lab, &p.Daemon, cmd, p.LogPath)
	want := fmt.Sprintf("%s%s, port %d", XL2TPDListening, listen, c.port)
	waitReady(tb, &p.Daemon, 10*time.Second, fmt.Sprintf("%q in its log and a control FIFO", want), func() bool {
		if !strings.Contains(p.Log(), want) {
			return false
		}
		fi, err := os.Stat(p.ControlPath)
		return err == nil && fi.Mode()&os.ModeNamedPipe != 0
	})
	p.Startup = time.Since(begin)
	return p
}

// Control writes one command line to xl2tpd's control FIFO (see
// xl2tpd-control(8): "c NAME" connects the LAC NAME, "d NAME" disconnects
// it, "t HOST" opens a tunnel to HOST).
func (p *XL2TPDPeer) Control(line string) error {
	// Non-blocking: opening fails with ENXIO at once if xl2tpd is not
	// reading its FIFO, instead of blocking forever.
	f, err := os.OpenFile(p.ControlPath, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, syscall.ENXIO) {
			return fmt.Errorf("peers: %s does not read its control file %s", p.Name, p.ControlPath)
		}
		return fmt.Errorf("peers: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(strings.TrimSuffix(line, "\n") + "\n"); err != nil {
		return fmt.Errorf("peers: writing %s: %w", p.ControlPath, err)
	}
	return nil
}

// Dial asks a LAC to connect: "c NAME" on its control FIFO. xl2tpd then
// sends SCCRQ to its LNS and, once the tunnel is up, ICRQ.
func (p *XL2TPDPeer) Dial() error {
	if p.Role != "lac" {
		return fmt.Errorf("peers: Dial on xl2tpd in role %s", p.Role)
	}
	return p.Control("c " + p.LACName)
}

// Hangup asks a LAC to disconnect: "d NAME".
func (p *XL2TPDPeer) Hangup() error {
	if p.Role != "lac" {
		return fmt.Errorf("peers: Hangup on xl2tpd in role %s", p.Role)
	}
	return p.Control("d " + p.LACName)
}

// Tunnels returns the "Connection established to ..." lines xl2tpd
// logged, one per tunnel brought up.
func (p *XL2TPDPeer) Tunnels() []string { return p.LogLines(XL2TPDTunnelUp) }

// Calls returns the "Call established with ..." lines xl2tpd logged, one
// per session brought up.
func (p *XL2TPDPeer) Calls() []string { return p.LogLines(XL2TPDCallUp) }

// Events returns, in order, the lines where xl2tpd logged a tunnel or a
// call coming up or going down, or pppd failing.
func (p *XL2TPDPeer) Events() []string {
	var out []string
	for _, l := range strings.Split(p.Log(), "\n") {
		for _, k := range []string{XL2TPDTunnelUp, XL2TPDCallUp, XL2TPDTunnelClosed, XL2TPDCallClosed, XL2TPDPPPFailed} {
			if strings.Contains(l, k) {
				out = append(out, strings.TrimSpace(l))
				break
			}
		}
	}
	return out
}

// WaitTunnel waits up to timeout for a tunnel to come up and returns the
// line xl2tpd logged.
func (p *XL2TPDPeer) WaitTunnel(timeout time.Duration) (string, error) {
	return p.WaitLog(XL2TPDTunnelUp, timeout)
}

// WaitCall waits up to timeout for a call to come up and returns the line
// xl2tpd logged.
func (p *XL2TPDPeer) WaitCall(timeout time.Duration) (string, error) {
	return p.WaitLog(XL2TPDCallUp, timeout)
}
