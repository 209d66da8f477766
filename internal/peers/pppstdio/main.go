// Command pppstdio stands in for pppd in interop tests: pppd cannot run on
// a kernel without PPP (no /dev/ppp), so the daemons that would start it
// (pptpd's -e PROGRAM, pptp-linux's --nolaunchpppd, pppoe) get this
// program instead. It runs vpdn's PPP engine (proto/ppp) over a byte
// stream in asynchronous HDLC-like framing (RFC 1662 §4) — its stdin and
// stdout, or the master of a pty whose slave it gives to a command, as
// pppd's `pty` option does — and carries IPv4 between the link and a TUN
// device it creates in its network namespace, so that pings cross.
//
// Server role (pptpd): it authenticates the peer (-auth ms-chap-v2 or
// chap, one account -user/-password) and assigns fixed addresses (-local,
// -peer, or the LOCAL:REMOTE argument pptpd passes as it would to pppd).
// Client role (pptp-linux): it authenticates itself with -user/-password
// and takes the address IPCP gives it. No CCP compression or MPPE: the
// engine rejects every CCP option when MPPE is not configured.
//
//	pppstdio -role server -auth ms-chap-v2 -user U -password P -tun ppp0 -log F -- [pppd arguments]
//	pppstdio -role client -user U -password P -tun ppp0 -log F -pty -- pptp 198.18.0.1 --nolaunchpppd
//
// It logs to -log (never to stdout or stderr, which may be the link) the
// PPP negotiation in the shape of IOS debug lines, and one line per event
// the tests wait for: "pppstdio: IPCP up local A peer B", "pppstdio: link
// down: REASON". It exits when the link goes down, the stream ends, the
// command on the pty exits, or -max-time passes. It is for tests only.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/netif"
	"github.com/vpdn/vpdn/proto/ppp"
	wire "github.com/vpdn/vpdn/wire/ppp"
	"golang.org/x/sys/unix"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

type options struct {
	role, user, password, auth, tun, logPath string
	local, peer                              netip.Addr
	mtu                                      int
	pty                                      bool
	maxTime                                  time.Duration
	args                                     []string
}

func parse(args []string) (*options, error) {
	fs := flag.NewFlagSet("pppstdio", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the error says what is wrong; stderr may be the link
	o := &options{}
	var local, peer string
	fs.StringVar(&o.role, "role", "server", "server (authenticates the peer, assigns addresses) or client")
	fs.StringVar(&o.user, "user", "", "the account: the one accepted (server) or the one sent (client)")
	fs.StringVar(&o.password, "password", "", "its password")
	fs.StringVar(&o.auth, "auth", "ms-chap-v2", "server: the method asked of the peer: ms-chap-v2, chap or pap")
	fs.StringVar(&o.tun, "tun", "ppp0", "the TUN device to create for the link's datagrams")
	fs.StringVar(&o.logPath, "log", "", "log file (default: no log)")
	fs.StringVar(&local, "local", "", "server: this end's IPCP address (default: from a LOCAL:REMOTE argument)")
	fs.StringVar(&peer, "peer", "", "server: the address given to the peer (default: from a LOCAL:REMOTE argument)")
	fs.IntVar(&o.mtu, "mtu", 1400, "the TUN's MTU")
	fs.BoolVar(&o.pty, "pty", false, "run the arguments after -- as a command on a pty and speak PPP on its master")
	fs.DurationVar(&o.maxTime, "max-time", 5*time.Minute, "exit after this long whatever happens")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	o.args = fs.Args()
	switch o.role {
	case "server", "client":
	default:
		return nil, fmt.Errorf("pppstdio: -role %q: expected server or client", o.role)
	}
	if o.user == "" || o.password == "" {
		return nil, errors.New("pppstdio: -user and -password are required")
	}
	if o.pty && len(o.args) == 0 {
		return nil, errors.New("pppstdio: -pty needs a command after --")
	}
	var err error
	if local != "" {
		if o.local, err = netip.ParseAddr(local); err != nil || !o.local.Is4() {
			return nil, fmt.Errorf("pppstdio: -local %q: expected an IPv4 address", local)
		}
	}
	if peer != "" {
		if o.peer, err = netip.ParseAddr(peer); err != nil || !o.peer.Is4() {
			return nil, fmt.Errorf("pppstdio: -peer %q: expected an IPv4 address", peer)
		}
	}
	if o.role == "server" {
		// pppd's LOCAL:REMOTE option, as pptpd passes it
		// ("198.19.5.1:198.19.5.10"), unless the flags say otherwise;
		// with -pty the arguments are a command.
		var args []string
		if !o.pty {
			args = o.args
		}
		for _, a := range args {
			l, r, ok := strings.Cut(a, ":")
			if !ok {
				continue
			}
			la, err1 := netip.ParseAddr(l)
			ra, err2 := netip.ParseAddr(r)
			if err1 != nil || err2 != nil || !la.Is4() || !ra.Is4() {
				continue
			}
			if !o.local.IsValid() {
				o.local = la
			}
			if !o.peer.IsValid() {
				o.peer = ra
			}
		}
		if !o.local.IsValid() || !o.peer.IsValid() {
			return nil, errors.New("pppstdio: the server role needs -local and -peer or a LOCAL:REMOTE argument")
		}
	}
	return o, nil
}

func run(args []string) int {
	o, err := parse(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var logw io.Writer = io.Discard
	if o.logPath != "" {
		f, err := os.OpenFile(o.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer f.Close()
		logw = f
	}
	log := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelDebug}))
	event := func(format string, a ...any) {
		fmt.Fprintf(logw, "pppstdio: "+format+"\n", a...)
	}
	event("started, pid %d, role %s, args %q", os.Getpid(), o.role, o.args)
	if err := serve(o, log, event); err != nil {
		event("exit: %v", err)
		return 1
	}
	event("exit")
	return 0
}

// serve runs one PPP link until it ends.
func serve(o *options, log *slog.Logger, event func(string, ...any)) error {
	done := make(chan string, 4)
	finish := func(why string) {
		select {
		case done <- why:
		default:
		}
	}
	stream, child, err := openStream(o, event)
	if err != nil {
		return err
	}
	defer stream.Close()
	childDone := make(chan struct{})
	if child == nil {
		close(childDone)
	} else {
		go func() {
			err := child.Wait()
			close(childDone)
			finish(fmt.Sprintf("%s exited: %v", child.Args[0], err))
		}()
	}
	defer func() {
		if child == nil {
			return
		}
		child.Process.Signal(syscall.SIGTERM)
		select {
		case <-childDone:
		case <-time.After(3 * time.Second):
			child.Process.Kill()
			<-childDone
		}
	}()

	k, err := netif.NewKernel()
	if err != nil {
		return err
	}
	defer k.Close()
	tun, err := k.CreateTUN(o.tun, false)
	if err != nil {
		return fmt.Errorf("pppstdio: TUN %s: %w", o.tun, err)
	}
	defer tun.Close()
	if err := k.SetMTU(tun.Name(), o.mtu); err != nil {
		return err
	}

	r := ppp.NewRunner()
	defer r.Close()

	var (
		outMu  sync.Mutex
		outBuf []byte
	)
	output := ppp.OutputFunc(func(frame []byte) error {
		outMu.Lock()
		defer outMu.Unlock()
		// Every control character escaped (the default map, RFC 1662
		// §7.1) whatever LCP agreed: a receiver must undo any escape, so
		// this is always understood.
		outBuf = wire.AppendHDLC(outBuf[:0], frame, wire.DefaultACCM)
		_, err := stream.Write(outBuf)
		return err
	})
	h := &handler{k: k, tun: tun, event: event, finish: finish}
	cfg := ppp.Config{
		Name:           "ppp",
		Logger:         log,
		Post:           r.Post,
		Output:         output,
		Handler:        h,
		AddressControl: true,
		MRU:            o.mtu,
		Keepalive:      10 * time.Second,
	}
	if o.role == "server" {
		methods, err := methodList(o.auth)
		if err != nil {
			return err
		}
		local, err := aaa.NewLocal(aaa.LocalConfig{Users: []aaa.User{{Name: o.user, Password: o.password}}, Logger: log})
		if err != nil {
			return err
		}
		cfg.Auth = ppp.AuthConfig{Methods: methods, AAA: local, Timeout: 20 * time.Second, Hostname: "pppstdio"}
		cfg.IPCP = ppp.IPCPConfig{Local: o.local, Peer: o.peer}
	} else {
		cfg.Outgoing = true
		cfg.Auth = ppp.AuthConfig{Hostname: o.user, Password: o.password, Timeout: 20 * time.Second}
		cfg.IPCP = ppp.IPCPConfig{Client: true}
	}
	link, err := ppp.NewLink(cfg)
	if err != nil {
		return err
	}
	h.link, h.post = link, r.Post
	r.Post(link.Start)

	// The stream: HDLC frames in, one Input call each.
	go func() {
		dec := wire.NewDecoder(4096)
		buf := make([]byte, 8192)
		var bad int
		for {
			n, err := stream.Read(buf)
			in := buf[:n]
			for len(in) > 0 {
				frame, used, ferr := dec.Next(in)
				in = in[used:]
				switch {
				case ferr != nil:
					bad++
					if bad <= 10 {
						event("bad frame: %v", ferr)
					}
				case frame != nil:
					f := append([]byte(nil), frame...)
					r.Post(func() { link.Input(f) })
				}
			}
			if err != nil {
				r.Post(link.LowerDown)
				finish(fmt.Sprintf("stream: %v", err))
				return
			}
		}
	}()
	// The TUN: datagrams out through the link once IPCP is open.
	go func() {
		for {
			b := make([]byte, wire.MaxHeaderLen+o.mtu+64)
			n, err := tun.Read(b[wire.MaxHeaderLen:])
			if err != nil {
				if !errors.Is(err, netif.ErrClosed) {
					finish(fmt.Sprintf("TUN: %v", err))
				}
				return
			}
			b = b[:wire.MaxHeaderLen+n]
			if n == 0 || b[wire.MaxHeaderLen]>>4 != 4 {
				continue // IPv4 only: IPv6CP is not enabled
			}
			r.Post(func() { link.SendPacket(wire.ProtoIPv4, b, wire.MaxHeaderLen) })
		}
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	var why string
	select {
	case why = <-done:
	case s := <-sig:
		why = "signal " + s.String()
		r.Do(func() { link.Close("signal") })
		// Terminate-Request goes out; give the peer a moment to answer.
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
	case <-time.After(o.maxTime):
		why = "max-time"
	}
	event("link down: %s", why)
	return nil
}

// handler connects the link's events to the TUN.
type handler struct {
	k      *netif.Kernel
	tun    netif.Device
	link   *ppp.Link
	post   func(func())
	event  func(string, ...any)
	finish func(string)
	up     bool
}

func (h *handler) Up(ev ppp.UpEvent) {
	if ev.Protocol != wire.ProtoIPCP || h.up {
		return
	}
	h.up = true
	local, peer := ev.Info.LocalAddr, ev.Info.PeerAddr
	if err := h.k.AddPeerAddress(h.tun.Name(), local, peer); err != nil {
		h.event("TUN address: %v", err)
		h.finish("TUN address")
		return
	}
	if err := h.k.SetUp(h.tun.Name()); err != nil {
		h.event("TUN up: %v", err)
		h.finish("TUN up")
		return
	}
	auth := ev.Info.AuthPeer
	if auth == 0 {
		auth = ev.Info.AuthSelf
	}
	h.event("IPCP up local %s peer %s on %s (auth %s, user %q)", local, peer, h.tun.Name(), auth, ev.Info.Username)
}

func (h *handler) Down(ev ppp.DownEvent) {
	h.event("%s down: %s", ev.Protocol, ev.Reason)
	if ev.Protocol == wire.ProtoLCP {
		h.finish(ev.Reason)
	}
}

func (h *handler) Packet(proto wire.Protocol, payload []byte) {
	if proto != wire.ProtoIPv4 {
		return
	}
	h.tun.Write(payload)
}

func methodList(s string) ([]aaa.Method, error) {
	var out []aaa.Method
	for _, m := range strings.Split(s, ",") {
		switch m {
		case "ms-chap-v2":
			out = append(out, aaa.MSCHAPv2)
		case "chap":
			out = append(out, aaa.CHAP)
		case "pap":
			out = append(out, aaa.PAP)
		default:
			return nil, fmt.Errorf("pppstdio: -auth %q: expected ms-chap-v2, chap or pap", m)
		}
	}
	return out, nil
}

// openStream returns the byte stream PPP runs on: stdin and stdout in raw
// mode, or with -pty the master of a new pty whose slave is the command's
// stdin and stdout.
func openStream(o *options, event func(string, ...any)) (io.ReadWriteCloser, *exec.Cmd, error) {
	if !o.pty {
		// pptpd hands its pty slave over in cooked mode; pppd makes
		// it raw, and so does this stand-in.
		if err := makeRaw(0); err != nil && !errors.Is(err, unix.ENOTTY) {
			return nil, nil, fmt.Errorf("pppstdio: raw mode on stdin: %w", err)
		}
		return stdio{}, nil, nil
	}
	master, slave, name, err := openPTY()
	if err != nil {
		return nil, nil, err
	}
	if err := makeRaw(int(slave.Fd())); err != nil {
		master.Close()
		slave.Close()
		return nil, nil, fmt.Errorf("pppstdio: raw mode on %s: %w", name, err)
	}
	cmd := exec.Command(o.args[0], o.args[1:]...)
	cmd.Stdin, cmd.Stdout = slave, slave
	if o.logPath != "" {
		if f, err := os.OpenFile(o.logPath, os.O_WRONLY|os.O_APPEND, 0); err == nil {
			cmd.Stderr = f
			defer f.Close()
		}
	}
	if err := cmd.Start(); err != nil {
		master.Close()
		slave.Close()
		return nil, nil, fmt.Errorf("pppstdio: %w", err)
	}
	slave.Close()
	event("started %q on %s, pid %d", o.args, name, cmd.Process.Pid)
	return master, cmd, nil
}

// stdio is the link on stdin and stdout.
type stdio struct{}

func (stdio) Read(b []byte) (int, error)  { return os.Stdin.Read(b) }
func (stdio) Write(b []byte) (int, error) { return os.Stdout.Write(b) }
func (stdio) Close() error                { return nil }

// openPTY opens a new pty pair through /dev/ptmx.
func openPTY() (master, slave *os.File, name string, err error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, "", fmt.Errorf("pppstdio: %w", err)
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		return nil, nil, "", fmt.Errorf("pppstdio: unlockpt: %w", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		m.Close()
		return nil, nil, "", fmt.Errorf("pppstdio: ptsname: %w", err)
	}
	name = "/dev/pts/" + strconv.Itoa(n)
	s, err := os.OpenFile(name, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		return nil, nil, "", fmt.Errorf("pppstdio: %w", err)
	}
	return m, s, name, nil
}

// makeRaw puts a terminal in raw mode, as cfmakeraw(3) does: 8-bit
// characters, no echo, no line editing, no signals, no translation.
func makeRaw(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}
