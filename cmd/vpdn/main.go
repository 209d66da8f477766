// Command vpdn is a software VPN concentrator: L2TP/PPTP tunnel server,
// access concentrator and client with a user-space data plane, configured
// in the IOS language. See README.md.
package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
)

type subcommand struct {
	name  string
	usage string
	help  string
	run   func(args []string) int
}

var subcommands []subcommand

func init() {
	subcommands = []subcommand{
		{"serve", "serve -c FILE [--socket PATH] [--admin-group G] [--read-group G] [--log-format text|json] [--log-level debug|info|warn|error]", "run the daemon", runServe},
		{"show", "show WORDS... [--json] [--secrets] [--socket PATH]", "ask the daemon for a show command (IOS words, abbreviations allowed)", runShow},
		{"clear", "clear WORDS... [--socket PATH]", "ask the daemon to clear tunnels, sessions or counters", runClear},
		{"crypto", "crypto ipsec client ezvpn connect [NAME] [--socket PATH]", "ask the daemon to connect an Easy VPN remote (IOS's exec command)", runCrypto},
		{"debug", "debug SWITCH... | debug all [--socket PATH]", "turn a debug switch on (e.g. debug vpdn l2x-events)", runDebug},
		{"undebug", "undebug SWITCH... | undebug all [--socket PATH]", "turn a debug switch off", runUndebug},
		{"dial", "dial --server A --user U --password P [--protocol l2tp|pptp] [--mppe auto|required|stateful|none] [--tunnel-name N] [--auth M] [--tunnel-password T] [--ipsec-psk KEY] [--ipv6 [--ipv6-default-route] [--ipv6-pd]] [--route P]...", "connect to a tunnel server as a PC-style L2TP or PPTP client; Ctrl-C disconnects", runDial},
		{"bench", "bench --server A --tunnels T --sessions S --user U --password P [--auth M] [--rate N] [--hold D] [--json]", "load-test an LNS: T emulated LACs, S PPP sessions each; report set-up rate and latency", runBench},
		{"lab", "lab [--keep | --down] [--examples DIR]", "build a client, an Internet router, an LNS and a server in namespaces; connect, ping, transfer, show, tear down (root)", runLab},
		{"check-config", "check-config FILE", "parse and validate a configuration and print it normalized", runCheckConfig},
		{"reload", "reload [--socket PATH]", "make the daemon reload its configuration (validated first)", runReload},
		{"version", "version", "print the version", runVersion},
	}
}

func usage() string {
	var b strings.Builder
	b.WriteString("vpdn: a software VPN concentrator (L2TP, PPTP, PPP) configured in the IOS language\n\nusage:\n")
	for _, s := range subcommands {
		fmt.Fprintf(&b, "  vpdn %-70s %s\n", s.usage, s.help)
	}
	b.WriteString("\nThe daemon's control socket is /run/vpdn/vpdn.sock unless --socket or VPDN_SOCKET says otherwise.\n")
	b.WriteString("Run \"vpdn COMMAND --help\" for a command's own help.\n")
	return b.String()
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 || isHelp(args[0]) {
		fmt.Print(usage())
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "lab-transfer" { // hidden helper of vpdn lab
		return runLabTransfer(args[1:])
	}
	i := slices.IndexFunc(subcommands, func(s subcommand) bool { return s.name == args[0] })
	if i < 0 {
		fmt.Fprintf(os.Stderr, "vpdn: unknown command %q\n\n%s", args[0], usage())
		return 2
	}
	s := subcommands[i]
	if slices.ContainsFunc(args[1:], isHelp) {
		fmt.Printf("usage: vpdn %s\n\n%s.\n", s.usage, s.help)
		if extra, ok := extraHelp[s.name]; ok {
			fmt.Print("\n" + extra)
		}
		return 0
	}
	return s.run(args[1:])
}

func isHelp(a string) bool { return a == "-h" || a == "--help" || a == "-help" || a == "help" }

var extraHelp = map[string]string{
	"show": `Examples:
  vpdn show running-config
  vpdn show run --json
  vpdn show version
  vpdn show debugging
  vpdn show running-config --secrets   (secrets as written; admin role)
`,
	"debug": `Switches:
` + debugSwitchList(),
	"lab": `Needs root and the programs ip, ping and sysctl (Debian packages iproute2,
iputils-ping and procps); it checks for them before it starts. The lab's
configurations are built into the binary (examples/lab-lns.cfg and
examples/lab-client.cfg of the source) and written to a temporary directory,
so it runs from any directory; --examples DIR uses the two files in DIR
instead. Only 198.18.0.0/15 is used; the host's interfaces are not touched.
`,
	"serve": `The daemon validates FILE before starting and exits 1 if it is broken.
SIGHUP (or "vpdn reload") re-reads FILE; a broken file is refused and the
running configuration stays. SIGTERM and SIGINT stop the daemon cleanly.

The control socket checks each peer's credentials (SO_PEERCRED): root and
the daemon's own user may do everything, members of --admin-group too;
members of --read-group may run show only (not --secrets). Others get
"permission denied". The socket is 0660, owned by the one group named, or
0666 when both are (the credential check is then the gate).
`,
}

// splitFlags takes --json and --socket PATH / --socket=PATH out of args,
// wherever they are, leaving the IOS words.
func splitFlags(args []string) (words []string, socket string, asJSON bool, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--json" || a == "-json":
			asJSON = true
		case a == "--socket" || a == "-socket":
			if i+1 >= len(args) {
				return nil, "", false, fmt.Errorf("--socket needs a path")
			}
			socket = args[i+1]
			i++
		case strings.HasPrefix(a, "--socket="):
			socket = strings.TrimPrefix(a, "--socket=")
		case strings.HasPrefix(a, "-") && len(a) > 1:
			return nil, "", false, fmt.Errorf("unknown flag %s", a)
		default:
			words = append(words, a)
		}
	}
	return words, socket, asJSON, nil
}
