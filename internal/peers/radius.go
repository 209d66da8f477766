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

// FreeRADIUSReady is the line `freeradius -X` prints once it serves.
const FreeRADIUSReady = "Ready to process requests"

// freeRADIUSConf is the packaged configuration the private copy starts
// from.
const freeRADIUSConf = "/etc/freeradius/3.0"

// FreeRADIUSPeer is a running FreeRADIUS.
type FreeRADIUSPeer struct {
	Daemon
	Secret   string // the shared secret of every client it accepts
	AcctPort uint16
	Users    []User
	ConfDir  string // the private copy of /etc/freeradius/3.0
	ns       NS
	lab      Lab
	bin      string
}

// FreeRADIUSSecret is the shared secret FreeRADIUS accepts from localhost
// (the packaged clients.conf) and from the lab underlay.
const FreeRADIUSSecret = "testing123"

// FreeRADIUS starts `freeradius -X` inside ns on a private copy of the
// packaged configuration. It accepts the users given (LabUser when none)
// with PAP, CHAP and MS-CHAP, from clients on localhost and on the lab
// range 198.18.0.0/15, shared secret "testing123". It listens on every
// address of the namespace, ports 1812 and 1813; Addr is 127.0.0.1, the
// address a daemon beside it (l2tpns) uses.
//
// Quirk (INTEROP.md): l2tpns turns a CHAP reject into a CDN with result
// code 3.
func FreeRADIUS(tb testing.TB, lab Lab, ns NS, users ...User) *FreeRADIUSPeer {
	tb.Helper()
	return freeRADIUS(tb, lab, ns, false, users, nil)
}

// FreeRADIUSSigning is FreeRADIUS configured to put a Message-Authenticator
// (RFC 3579 §3.2) in every Access-Accept and Access-Reject, as RADIUS
// clients hardened against BlastRADIUS (CVE-2024-3596) require: the
// packaged 3.2.1 adds one only to EAP answers, 3.2.5 and later to all.
func FreeRADIUSSigning(tb testing.TB, lab Lab, ns NS, users ...User) *FreeRADIUSPeer {
	tb.Helper()
	return freeRADIUS(tb, lab, ns, true, users, nil)
}

// FreeRADIUSAuthorizeOnly is FreeRADIUSSigning that also answers
// authorization-only Access-Requests (Service-Type Authorize-Only, RFC
// 5176 §3.1, no password): an Access-Accept with the reply attributes of a
// user its files know, an Access-Reject for anyone else. It is the RADIUS
// side of `aaa authorization network ... group radius` after local
// authentication.
func FreeRADIUSAuthorizeOnly(tb testing.TB, lab Lab, ns NS, users ...User) *FreeRADIUSPeer {
	tb.Helper()
	return freeRADIUS(tb, lab, ns, true, users, func(conf string) {
		// After the files module (which found the user's password and
		// reply attributes, or nothing), before pap.
		const rule = "\tif (&Service-Type == Authorize-Only) {\n\t\tif (&control:Cleartext-Password) {\n\t\t\tupdate control {\n\t\t\t\t&Auth-Type := Accept\n\t\t\t}\n\t\t}\n\t\telse {\n\t\t\treject\n\t\t}\n\t}\n\tpap"
		editFile(tb, filepath.Join(conf, "sites-enabled", "default"), []edit{
			{regexp.MustCompile(`(?m)^\tpap$`), rule},
		})
	})
}

func freeRADIUS(tb testing.TB, lab Lab, ns NS, sign bool, users []User, extra func(conf string)) *FreeRADIUSPeer {
	tb.Helper()
	Require(tb, "freeradius")
	bin, _ := lookPath("freeradius")
	if len(users) == 0 {
		users = []User{LabUser}
	}
	dir := mustDir(tb, filepath.Join(tb.TempDir(), "freeradius"))
	conf := filepath.Join(dir, "raddb")
	// cp -a keeps the relative symlinks of mods-enabled and sites-enabled.
	if out, err := exec.Command("cp", "-a", freeRADIUSConf, conf).CombinedOutput(); err != nil {
		tb.Fatalf("peers: copying %s: %v: %s", freeRADIUSConf, err, out)
	}
	run := mustDir(tb, filepath.Join(dir, "run"))
	logs := mustDir(tb, filepath.Join(dir, "log"))
	// radiusd.conf names its own directory, the log and run directories
	// and the user to switch to; point the first three at the copy and
	// stay root (the temporary directory is not readable by freerad).
	editFile(tb, filepath.Join(conf, "radiusd.conf"), []edit{
		{regexp.MustCompile(`(?m)^raddbdir = .*$`), "raddbdir = " + conf},
		{regexp.MustCompile(`(?m)^logdir = .*$`), "logdir = " + logs},
		{regexp.MustCompile(`(?m)^run_dir = .*$`), "run_dir = " + run},
		{regexp.MustCompile(`(?m)^(\s*)(user|group) = freerad$`), "$1#$2 = freerad"},
	})
	var authorize strings.Builder
	for _, u := range users {
		if strings.ContainsAny(u.Name+u.Password, "\"\\\n ") {
			tb.Fatalf("peers: user %q: no quotes, backslashes or spaces", u.Name)
		}
		fmt.Fprintf(&authorize, "%s Cleartext-Password := \"%s\"\n", u.Name, u.Password)
		if len(u.Reply) > 0 {
			fmt.Fprintf(&authorize, "\t%s\n", strings.Join(u.Reply, ",\n\t"))
		}
	}
	// The users go first: the packaged file's DEFAULT entries (such as
	// Framed-Protocol == PPP, without Fall-Through) would otherwise
	// end the lookup for a NAS that sends Framed-Protocol.
	prependFile(tb, filepath.Join(conf, "mods-config", "files", "authorize"), authorize.String())
	if sign {
		// An empty Message-Authenticator in the reply list is filled in
		// and signed when the answer is encoded.
		const ma = "\n\tupdate reply {\n\t\t&Message-Authenticator := 0x00\n\t}"
		editFile(tb, filepath.Join(conf, "sites-enabled", "default"), []edit{
			{regexp.MustCompile(`(?m)^post-auth \{$`), "post-auth {" + ma},
			{regexp.MustCompile(`(?m)^\tPost-Auth-Type REJECT \{$`), "\tPost-Auth-Type REJECT {" + ma},
		})
	}
	if extra != nil {
		extra(conf)
	}
	appendFile(tb, filepath.Join(conf, "clients.conf"), fmt.Sprintf(
		"\nclient vpdnlab {\n\tipaddr = 198.18.0.0/15\n\tsecret = %s\n}\n", FreeRADIUSSecret))

	p := &FreeRADIUSPeer{
		Daemon: Daemon{
			Name:    "freeradius",
			Addr:    netip.MustParseAddr("127.0.0.1"),
			Port:    1812,
			Dir:     dir,
			LogPath: filepath.Join(dir, "freeradius.log"),
		},
		Secret:   FreeRADIUSSecret,
		AcctPort: 1813,
		Users:    users,
		ConfDir:  conf,
		ns:       ns,
		lab:      lab,
		bin:      bin,
	}
	begin := time.Now()
	start(tb, lab, &p.Daemon, ns.Command(bin, "-X", "-d", conf), p.LogPath)
	waitReady(tb, &p.Daemon, 20*time.Second, fmt.Sprintf("%q", FreeRADIUSReady), logHas(&p.Daemon, FreeRADIUSReady))
	p.Startup = time.Since(begin)
	return p
}

// Authenticate runs radtest(1) inside the namespace against the server
// with the given method ("pap", "chap", "mschap") and reports whether it
// answered Access-Accept. It needs freeradius-utils.
func (p *FreeRADIUSPeer) Authenticate(user, password, method string) (bool, error) {
	if _, err := lookPath("radtest"); err != nil {
		return false, err
	}
	out, err := p.ns.Run(15*time.Second, "radtest", "-t", method, user, password,
		p.Addr.String(), "0", p.Secret)
	s := string(out)
	switch {
	case strings.Contains(s, "Received Access-Accept"):
		return true, nil
	case strings.Contains(s, "Received Access-Reject"):
		return false, nil
	}
	return false, fmt.Errorf("peers: radtest: %v: %s", err, s)
}

type edit struct {
	re   *regexp.Regexp
	repl string
}

// editFile applies regexp replacements to a file; each must match.
func editFile(tb testing.TB, path string, edits []edit) {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("peers: %v", err)
	}
	s := string(data)
	for _, e := range edits {
		if !e.re.MatchString(s) {
			tb.Fatalf("peers: %s: nothing matches %s", path, e.re)
		}
		s = e.re.ReplaceAllString(s, e.repl)
	}
	writeFile(tb, path, s, 0o640)
}

// prependFile puts text at the start of a file.
func prependFile(tb testing.TB, path, text string) {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("peers: %v", err)
	}
	writeFile(tb, path, text+string(data), 0o640)
}

// appendFile appends text to a file.
func appendFile(tb testing.TB, path, text string) {
	tb.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		tb.Fatalf("peers: %v", err)
	}
	if _, err := f.WriteString(text); err != nil {
		tb.Fatalf("peers: %v", err)
	}
	if err := f.Close(); err != nil {
		tb.Fatalf("peers: %v", err)
	}
}

// Restart starts FreeRADIUS again after Stop, on the same configuration
// (its detail files kept), and waits until it serves.
func (p *FreeRADIUSPeer) Restart(tb testing.TB) {
	tb.Helper()
	if p.cmd != nil && p.cmd.ProcessState == nil {
		tb.Fatalf("peers: freeradius restarted while running")
	}
	before := len(p.LogLines(FreeRADIUSReady))
	start(tb, p.lab, &p.Daemon, p.ns.Command(p.bin, "-X", "-d", p.ConfDir), p.LogPath)
	waitReady(tb, &p.Daemon, 20*time.Second, fmt.Sprintf("%q", FreeRADIUSReady), func() bool {
		return len(p.LogLines(FreeRADIUSReady)) > before
	})
}

// AcctRecord is one accounting request as FreeRADIUS's detail module
// wrote it: attribute name to value (quotes removed; the last of a
// repeated attribute).
type AcctRecord map[string]string

// AcctRecords reads every record of the detail files FreeRADIUS wrote
// (${radacctdir}/CLIENT/detail-DATE under the private log directory), in
// file order.
func (p *FreeRADIUSPeer) AcctRecords() ([]AcctRecord, error) {
	files, err := filepath.Glob(filepath.Join(p.Dir, "log", "radacct", "*", "detail-*"))
	if err != nil {
		return nil, err
	}
	var out []AcctRecord
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var cur AcctRecord
		for _, line := range strings.Split(string(data), "\n") {
			switch {
			case strings.TrimSpace(line) == "":
				if cur != nil {
					out = append(out, cur)
					cur = nil
				}
			case strings.HasPrefix(line, "\t"):
				if cur == nil {
					cur = AcctRecord{}
				}
				k, v, ok := strings.Cut(strings.TrimSpace(line), " = ")
				if ok {
					cur[k] = strings.Trim(v, `"`)
				}
			default: // the record's date line
				cur = AcctRecord{}
			}
		}
		if cur != nil {
			out = append(out, cur)
		}
	}
	return out, nil
}

// RadClient runs radclient(1) inside the namespace: one request of code
// ("disconnect", "coa", "acct", "auth") to server (A:PORT) with secret,
// its attributes given as "Name = value" lines, one try of 3 s. It
// returns radclient's output (with -x, the answer's attributes).
func (p *FreeRADIUSPeer) RadClient(server, code, secret string, attrs ...string) (string, error) {
	if _, err := lookPath("radclient"); err != nil {
		return "", err
	}
	// The attributes reach radclient's stdin through printf, one a line,
	// as arguments: no quoting of their values by a shell.
	script := `s=$1; c=$2; k=$3; shift 3; printf '%s\n' "$@" | radclient -x -r 1 -t 3 "$s" "$c" "$k"`
	out, err := p.ns.Run(15*time.Second, "sh", append([]string{"-c", script, "sh", server, code, secret}, attrs...)...)
	return string(out), err
}
