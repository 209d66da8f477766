package peers

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The SoftEther binaries of the Debian packages softether-vpnserver and
// softether-vpncmd.
const (
	SoftEtherServerBin = "/usr/libexec/softether/vpnserver/vpnserver"
	SoftEtherCmdBin    = "/usr/libexec/softether/vpncmd/vpncmd"
)

// softEtherDirs are the directories compiled into vpnserver and vpncmd.
var softEtherDirs = []string{"/var/lib/softether", "/var/log/softether", "/run/softether"}

// SoftEther's lab settings, the ones of INTEROP.md.
const (
	SoftEtherHub         = "LAB"
	SoftEtherHubPassword = "hubpw"
	SoftEtherPSK         = "labpsk123"
	softEtherAdminPort   = 5555
)

// softEtherSetup is the vpncmd script of INTEROP.md: a hub LAB with the
// lab user, SecureNAT's DHCP handing out 198.19.30.10-200 (gateway
// 198.19.30.1, no NAT), and the IPsec/L2TP server with raw L2TP (no
// IPsec) enabled.
const softEtherSetup = `HubCreate LAB /PASSWORD:hubpw
Hub LAB
UserCreate %[1]s /GROUP:none /REALNAME:none /NOTE:none
UserPasswordSet %[1]s /PASSWORD:%[2]s
SecureNatHostSet /MAC:none /IP:198.19.30.1 /MASK:255.255.255.0
DhcpSet /START:198.19.30.10 /END:198.19.30.200 /MASK:255.255.255.0 /EXPIRE:7200 /GW:none /DNS:none /DNS2:none /DOMAIN:none /LOG:yes /PUSHROUTE:none
SecureNatEnable
NatDisable
IPsecEnable /L2TP:yes /L2TPRAW:yes /ETHERIP:no /PSK:labpsk123 /DEFAULTHUB:LAB
VpnAzureSetEnable no
KeepDisable
`

// softEtherMayFail are the setup commands this build does not support
// ("Error code: 33, Unsupported."): VPN Azure is compiled out.
var softEtherMayFail = map[string]bool{"VpnAzureSetEnable": true}

// SoftEtherPeer is a running SoftEther VPN server with raw L2TP enabled.
type SoftEtherPeer struct {
	Daemon
	Hub         string
	HubPassword string
	User        User
	PSK         string     // the IPsec pre-shared key (L2TP/IPsec, IKEv1)
	Gateway     netip.Addr // SecureNAT's own address, 198.19.30.1
	PoolFirst   netip.Addr // the DHCP range PPP clients get addresses from
	PoolLast    netip.Addr
	StateDir    string // what the server sees as /var/lib/softether
	LogDir      string // what the server sees as /var/log/softether
	ConfigPath  string // vpn_server.config
	SetupOutput string // what vpncmd printed while configuring it
	ns          NS
	mounts      string // the script that bind-mounts the private directories
}

// SoftEther starts a SoftEther VPN server inside ns, configured as in
// INTEROP.md: raw L2TP on UDP 1701 (every address of the namespace; addr
// is only recorded as the one to dial), hub LAB, user LabUser. Its
// compiled-in directories are replaced, for its processes only, by
// private ones (unshare -m and bind mounts; where a directory does not
// exist on the host, its parent is replaced instead). It starts the
// server once to make vpn_server.config, stops it (parent and child),
// disables the dynamic DNS client and NAT traversal (both try to reach
// the Internet), starts it again, runs the setup script with vpncmd over
// localhost:5555 and returns once UDP 1701 is bound. It takes 4 to 8
// seconds.
func SoftEther(tb testing.TB, lab Lab, ns NS, addr netip.Addr) *SoftEtherPeer {
	tb.Helper()
	Require(tb, SoftEtherServerBin, SoftEtherCmdBin, "unshare", "mount", "ss")
	checkLab(tb, addr)
	dir := mustDir(tb, filepath.Join(tb.TempDir(), "softether"))
	p := &SoftEtherPeer{
		Daemon: Daemon{
			Name:    "softether",
			Addr:    addr,
			Port:    1701,
			Dir:     dir,
			LogPath: filepath.Join(dir, "vpnserver.out"),
		},
		Hub:         SoftEtherHub,
		HubPassword: SoftEtherHubPassword,
		User:        LabUser,
		PSK:         SoftEtherPSK,
		Gateway:     netip.MustParseAddr("198.19.30.1"),
		PoolFirst:   netip.MustParseAddr("198.19.30.10"),
		PoolLast:    netip.MustParseAddr("198.19.30.200"),
		ns:          ns,
	}
	// dir/root mirrors the parts of / that are replaced.
	root := filepath.Join(dir, "root")
	var script strings.Builder
	script.WriteString("set -e\n")
	for _, d := range softEtherDirs {
		mustDir(tb, filepath.Join(root, d))
		parent := filepath.Dir(d)
		fmt.Fprintf(&script, "if [ -d %[1]s ]; then mount --bind %[2]s %[1]s; else mount --bind %[3]s %[4]s; fi\n",
			d, shQuote(filepath.Join(root, d)), shQuote(filepath.Join(root, parent)), parent)
	}
	script.WriteString("exec \"$@\"\n")
	p.mounts = filepath.Join(dir, "mounts.sh")
	writeFile(tb, p.mounts, script.String(), 0o755)
	p.StateDir = filepath.Join(root, "/var/lib/softether")
	p.LogDir = filepath.Join(root, "/var/log/softether")
	p.ConfigPath = filepath.Join(p.StateDir, "vpn_server.config")
	p.extraLogs = []string{filepath.Join(p.LogDir, "server_log", "*.log")}

	begin := time.Now()
	// First start: it writes vpn_server.config, then it is stopped.
	first := p.command()
	start(tb, lab, &p.Daemon, first, p.LogPath)
	waitReady(tb, &p.Daemon, 30*time.Second, "vpn_server.config and TCP 5555", func() bool {
		data, err := os.ReadFile(p.ConfigPath)
		return err == nil && strings.Contains(string(data), "declare DDnsClient") &&
			TCPListening(ns, netip.MustParseAddr("127.0.0.1"), softEtherAdminPort)
	})
	if err := stopGroup(first, 10*time.Second); err != nil {
		tb.Fatal(err)
	}
	editFile(tb, p.ConfigPath, []edit{
		{regexp.MustCompile(`(declare DDnsClient\s*\{[^}]*?bool Disabled )false`), "${1}true"},
		{regexp.MustCompile(`bool DisableNatTraversal false`), "bool DisableNatTraversal true"},
	})

	// Second start, then the setup script over the admin port.
	start(tb, lab, &p.Daemon, p.command(), p.LogPath)
	waitReady(tb, &p.Daemon, 30*time.Second, "TCP 5555", func() bool {
		return TCPListening(ns, netip.MustParseAddr("127.0.0.1"), softEtherAdminPort)
	})
	out, err := p.VPNCmd(fmt.Sprintf(softEtherSetup, p.User.Name, p.User.Password))
	p.SetupOutput = out
	if err != nil {
		tb.Fatalf("%v\nserver log:\n%s", err, p.Log())
	}
	waitReady(tb, &p.Daemon, 30*time.Second, "UDP 1701 bound", func() bool {
		return UDPBound(ns, addr, 1701)
	})
	p.Startup = time.Since(begin)
	return p
}

// command returns the vpnserver command inside the private directories.
func (p *SoftEtherPeer) command() *exec.Cmd {
	return p.ns.Command("unshare", "-m", "--propagation", "private", "sh", p.mounts, SoftEtherServerBin, "execsvc")
}

// VPNCmd runs a vpncmd script (one command a line) against the server as
// its administrator ("vpncmd localhost:5555 /SERVER /IN:FILE") and returns
// what vpncmd printed. It fails if vpncmd cannot connect or a command
// reports an error (except the ones this build does not support).
func (p *SoftEtherPeer) VPNCmd(script string) (string, error) {
	f, err := os.CreateTemp(p.Dir, "vpncmd-*.txt")
	if err != nil {
		return "", fmt.Errorf("peers: %w", err)
	}
	f.WriteString(script)
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("peers: %w", err)
	}
	if strings.ContainsAny(f.Name(), " \t") {
		return "", fmt.Errorf("peers: vpncmd cannot read %q (a space in the path)", f.Name())
	}
	var out []byte
	// The admin port may accept before the server takes commands; retry
	// a connection failure, bounded.
	for try := 0; try < 5; try++ {
		out, err = p.ns.Run(60*time.Second, "unshare", "-m", "--propagation", "private", "sh", p.mounts,
			SoftEtherCmdBin, fmt.Sprintf("localhost:%d", softEtherAdminPort), "/SERVER", "/IN:"+f.Name())
		if strings.Contains(string(out), "Connection has been established") {
			break
		}
		time.Sleep(time.Second)
	}
	s := string(out)
	if !strings.Contains(s, "Connection has been established") {
		return s, fmt.Errorf("peers: vpncmd could not connect: %v\n%s", err, s)
	}
	if bad := vpncmdFailures(s); len(bad) > 0 {
		return s, fmt.Errorf("peers: vpncmd: failed: %s\n%s", strings.Join(bad, ", "), s)
	}
	return s, nil
}

// vpncmdFailures splits vpncmd's output at its prompts ("VPN Server>" or
// "VPN Server/HUB>" followed by the command) and returns the commands
// whose output says "Error occurred", except softEtherMayFail.
func vpncmdFailures(out string) []string {
	var bad []string
	cmd := ""
	failed := false
	flush := func() {
		if failed && cmd != "" && !softEtherMayFail[cmd] {
			bad = append(bad, cmd)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "VPN Server") {
			if _, rest, ok := strings.Cut(line, ">"); ok {
				flush()
				cmd, _, _ = strings.Cut(strings.TrimSpace(rest), " ")
				failed = false
				continue
			}
		}
		if strings.Contains(line, "Error occurred") {
			failed = true
		}
	}
	flush()
	return bad
}
