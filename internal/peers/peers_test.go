package peers_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vpdn/vpdn/internal/nstest"
	"github.com/vpdn/vpdn/internal/peers"
)

// The harness types are what the peers take.
var (
	_ peers.Lab = (*nstest.Lab)(nil)
	_ peers.NS  = (*nstest.NS)(nil)
)

var (
	cliAddr = netip.MustParseAddr("198.18.0.1")
	srvAddr = netip.MustParseAddr("198.18.0.2")
)

// lab is two namespaces joined by a veth pair, 198.18.0.1/24 ("cli") and
// 198.18.0.2/24 ("srv", where the peer runs), with a capture of UDP on the
// client side.
type lab struct {
	*nstest.Lab
	cli, srv *nstest.NS
	cliDev   string
	capture  *nstest.Capture
}

func newLab(t *testing.T) *lab {
	t.Helper()
	l := &lab{Lab: nstest.New(t)}
	l.cli, l.srv = l.NS("cli"), l.NS("srv")
	l.cliDev, _ = l.Link(l.cli, l.srv, netip.PrefixFrom(cliAddr, 24), netip.PrefixFrom(srvAddr, 24))
	l.capture = l.Capture(l.cli, l.cliDev, "udp")
	return l
}

// checkCapture stops the capture and fails on any packet tshark finds
// malformed or flags with an expert error; it returns how many packets
// match the display filter want (0 when tshark is missing).
func (l *lab) checkCapture(t *testing.T, want string) int {
	t.Helper()
	if l.capture == nil {
		return 0
	}
	l.capture.Stop()
	problems, err := nstest.Problems(l.capture.Path)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("tshark: %s", p)
	}
	lines, err := nstest.Decode(l.capture.Path, want)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) == 0 {
		all, _ := nstest.Decode(l.capture.Path, "")
		t.Errorf("tshark saw no packet matching %q; it saw:\n%s", want, strings.Join(all, "\n"))
	}
	return len(lines)
}

// dump stops the capture and logs every packet in it, and the addresses
// and neighbours of both namespaces.
func (l *lab) dump(t *testing.T) {
	t.Helper()
	for _, ns := range []*nstest.NS{l.cli, l.srv} {
		out, _ := ns.IP("addr")
		neigh, _ := ns.IP("neigh")
		t.Logf("%s: %s\n%s", ns.Tag, out, neigh)
	}
	if l.capture == nil {
		return
	}
	l.capture.Stop()
	all, err := nstest.Decode(l.capture.Path, "")
	t.Logf("capture (%v):\n%s", err, strings.Join(all, "\n"))
}

// logOnFailure logs the daemon's log at the end of a failed test.
func logOnFailure(t *testing.T, d *peers.Daemon) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s log:\n%s", d.Name, d.Log())
		}
	})
}

// L2TPv2 control messages, built by hand (RFC 2661 section 3.1):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|T|L|x|x|S|x|O|P|x|x|x|x|  Ver  |          Length (opt)         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|           Tunnel ID           |           Session ID          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|             Ns (opt)          |             Nr (opt)          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const (
	flagT       = 0x8000
	flagL       = 0x4000
	flagS       = 0x0800
	flagO       = 0x0200
	versionMask = 0x000f
	avpMandBit  = 0x8000
	avpLenMask  = 0x03ff

	// Message types (section 3.2) and AVP types (section 4.4).
	msgSCCRQ      = 1
	msgSCCRP      = 2
	msgStopCCN    = 4
	avpMsgType    = 0
	avpResultCode = 1
	avpProtoVer   = 2
	avpFraming    = 3
	avpHostName   = 7
	avpTunnelID   = 9
)

// appendAVP appends an IETF AVP with the M bit set (section 4.1).
func appendAVP(b []byte, typ uint16, value []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, avpMandBit|uint16(6+len(value)))
	b = binary.BigEndian.AppendUint16(b, 0) // IETF
	b = binary.BigEndian.AppendUint16(b, typ)
	return append(b, value...)
}

func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

// controlMessage frames AVPs as a control message with T, L and S set.
func controlMessage(tunnel, ns, nr uint16, avps []byte) []byte {
	b := make([]byte, 0, 12+len(avps))
	b = binary.BigEndian.AppendUint16(b, flagT|flagL|flagS|2)
	b = binary.BigEndian.AppendUint16(b, uint16(12+len(avps)))
	b = binary.BigEndian.AppendUint16(b, tunnel)
	b = binary.BigEndian.AppendUint16(b, 0) // session
	b = binary.BigEndian.AppendUint16(b, ns)
	b = binary.BigEndian.AppendUint16(b, nr)
	return append(b, avps...)
}

// sccrq is a minimal SCCRQ (section 6.1): Message Type, Protocol Version
// 1.0, Host Name, Framing Capabilities (sync and async), Assigned Tunnel ID.
func sccrq(tid uint16, host string) []byte {
	var a []byte
	a = appendAVP(a, avpMsgType, u16(msgSCCRQ))
	a = appendAVP(a, avpProtoVer, []byte{1, 0})
	a = appendAVP(a, avpHostName, []byte(host))
	a = appendAVP(a, avpFraming, []byte{0, 0, 0, 3})
	a = appendAVP(a, avpTunnelID, u16(tid))
	return controlMessage(0, 0, 0, a)
}

// stopCCN clears the tunnel (section 6.4), result code 1: general request
// to clear control connection.
func stopCCN(peerTID, ourTID, ns, nr uint16) []byte {
	var a []byte
	a = appendAVP(a, avpMsgType, u16(msgStopCCN))
	a = appendAVP(a, avpTunnelID, u16(ourTID))
	a = appendAVP(a, avpResultCode, u16(1))
	return controlMessage(peerTID, ns, nr, a)
}

type avp struct {
	vendor, typ uint16
	value       []byte
}

type control struct {
	tunnel, session, ns, nr uint16
	avps                    []avp
}

// msgType returns the Message Type AVP's value, or -1 for a ZLB.
func (c control) msgType() int {
	if len(c.avps) == 0 || c.avps[0].vendor != 0 || c.avps[0].typ != avpMsgType || len(c.avps[0].value) != 2 {
		return -1
	}
	return int(binary.BigEndian.Uint16(c.avps[0].value))
}

// u16AVP returns the value of a two-byte IETF AVP.
func (c control) u16AVP(typ uint16) (uint16, bool) {
	for _, a := range c.avps {
		if a.vendor == 0 && a.typ == typ && len(a.value) == 2 {
			return binary.BigEndian.Uint16(a.value), true
		}
	}
	return 0, false
}

func (c control) String() string {
	return fmt.Sprintf("type %d tunnel %d session %d Ns %d Nr %d, %d AVPs", c.msgType(), c.tunnel, c.session, c.ns, c.nr, len(c.avps))
}

// parseControl decodes an L2TPv2 control message, checking every length.
func parseControl(b []byte) (control, error) {
	var c control
	if len(b) < 2 {
		return c, errors.New("short header")
	}
	flags := binary.BigEndian.Uint16(b)
	if flags&flagT == 0 || flags&flagL == 0 || flags&flagS == 0 || flags&versionMask != 2 {
		return c, fmt.Errorf("not an L2TPv2 control message: flags %#04x", flags)
	}
	if len(b) < 12 {
		return c, errors.New("short header")
	}
	n := int(binary.BigEndian.Uint16(b[2:]))
	if n < 12 || n > len(b) {
		return c, fmt.Errorf("length %d, datagram %d", n, len(b))
	}
	b = b[:n]
	c.tunnel = binary.BigEndian.Uint16(b[4:])
	c.session = binary.BigEndian.Uint16(b[6:])
	c.ns = binary.BigEndian.Uint16(b[8:])
	c.nr = binary.BigEndian.Uint16(b[10:])
	off := 12
	if flags&flagO != 0 {
		if len(b) < off+2 {
			return c, errors.New("short offset field")
		}
		off += 2 + int(binary.BigEndian.Uint16(b[off:]))
		if off > len(b) {
			return c, errors.New("offset beyond message")
		}
	}
	for off < len(b) {
		if len(b)-off < 6 {
			return c, fmt.Errorf("short AVP header at %d", off)
		}
		l := int(binary.BigEndian.Uint16(b[off:]) & avpLenMask)
		if l < 6 || off+l > len(b) {
			return c, fmt.Errorf("bad AVP length %d at %d", l, off)
		}
		c.avps = append(c.avps, avp{
			vendor: binary.BigEndian.Uint16(b[off+2:]),
			typ:    binary.BigEndian.Uint16(b[off+4:]),
			value:  b[off+6 : off+l],
		})
		off += l
	}
	return c, nil
}

// inNS runs fn on an OS thread that has entered ns, then moves the
// thread back to its own namespace and gives it back to the scheduler.
// Unlike nstest's NS.Do it does not end the thread: an ending thread
// SIGKILLs the daemons (tshark, peers) that were forked from it, because
// the lab starts them with Pdeathsig. Only if the way back fails is the
// thread left to die.
func inNS(ns *nstest.NS, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer self.Close()
		target, err := os.Open(filepath.Join("/run/netns", ns.Name))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %w", ns.Name, err)
			return
		}
		err = fn()
		if unix.Setns(int(self.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// listenUDP opens a UDP socket inside ns; the socket stays in that
// namespace and may be used from any goroutine.
func listenUDP(t *testing.T, ns *nstest.NS, at netip.AddrPort) *net.UDPConn {
	t.Helper()
	var conn *net.UDPConn
	err := inNS(ns, func() error {
		var err error
		conn, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(at))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// readControl reads until a control message of type want arrives from
// any address, or the deadline passes; other messages are logged and
// skipped. resend, when not nil, is called every second without an answer.
func readControl(t *testing.T, conn *net.UDPConn, want int, timeout time.Duration, resend func()) (control, netip.AddrPort, error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 4096)
	for time.Now().Before(deadline) {
		next := time.Now().Add(time.Second)
		if next.After(deadline) {
			next = deadline
		}
		conn.SetReadDeadline(next)
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				if resend != nil {
					resend()
				}
				continue
			}
			return control{}, from, err
		}
		c, err := parseControl(buf[:n])
		if err != nil {
			t.Logf("from %s: %v: % x", from, err, buf[:n])
			continue
		}
		if c.msgType() == want {
			return c, from, nil
		}
		t.Logf("from %s: skipping %s", from, c)
	}
	return control{}, netip.AddrPort{}, fmt.Errorf("no message of type %d within %v", want, timeout)
}

// probeLNS sends an SCCRQ from the client namespace to an LNS, checks that
// an SCCRP for our tunnel comes back, and clears the tunnel with StopCCN.
func probeLNS(t *testing.T, l *lab, lns netip.AddrPort) control {
	t.Helper()
	const ourTID = 4242
	conn := listenUDP(t, l.cli, netip.AddrPortFrom(cliAddr, 0))
	req := sccrq(ourTID, "vpdn-probe")
	sent := 0
	send := func() {
		sent++
		if _, err := conn.WriteToUDPAddrPort(req, lns); err != nil {
			t.Errorf("sending SCCRQ: %v", err)
		}
	}
	send()
	rp, from, err := readControl(t, conn, msgSCCRP, 10*time.Second, send)
	if err != nil {
		l.dump(t)
		t.Fatalf("%d SCCRQ to %s: %v", sent, lns, err)
	}
	if rp.tunnel != ourTID {
		t.Errorf("SCCRP for tunnel %d, want %d", rp.tunnel, ourTID)
	}
	peerTID, ok := rp.u16AVP(avpTunnelID)
	if !ok || peerTID == 0 {
		t.Fatalf("SCCRP without an Assigned Tunnel ID: %s", rp)
	}
	t.Logf("SCCRP from %s: %s, assigned tunnel %d", from, rp, peerTID)
	if _, err := conn.WriteToUDPAddrPort(stopCCN(peerTID, ourTID, 1, rp.ns+1), from); err != nil {
		t.Errorf("sending StopCCN: %v", err)
	}
	return rp
}

func TestXL2TPDLNS(t *testing.T) {
	l := newLab(t)
	lns := peers.XL2TPDLNS(t, l.Lab, l.srv, srvAddr)
	t.Logf("xl2tpd LNS ready in %v", lns.Startup)
	probeLNS(t, l, lns.AddrPort())
	line, err := lns.WaitLog(peers.XL2TPDTunnelClosed, 5*time.Second)
	if err != nil {
		t.Errorf("%v\n%s", err, lns.Log())
	}
	t.Logf("after StopCCN: %s", line)
	if n := l.checkCapture(t, "l2tp.avp.message_type == 2"); n > 0 {
		t.Logf("tshark decoded %d SCCRP", n)
	}
	if !lns.Running() {
		t.Errorf("xl2tpd exited:\n%s", lns.Log())
	}
}

func TestXL2TPDLAC(t *testing.T) {
	l := newLab(t)
	// The client namespace plays the LNS: it only listens.
	conn := listenUDP(t, l.cli, netip.AddrPortFrom(cliAddr, 1701))
	lac := peers.XL2TPDLAC(t, l.Lab, l.srv, srvAddr, cliAddr)
	t.Logf("xl2tpd LAC ready in %v", lac.Startup)
	if err := lac.Dial(); err != nil {
		t.Fatal(err)
	}
	rq, from, err := readControl(t, conn, msgSCCRQ, 10*time.Second, nil)
	if err != nil {
		t.Fatalf("after Dial: %v\n%s", err, lac.Log())
	}
	if from.Addr() != srvAddr {
		t.Errorf("SCCRQ from %s, want %s", from, srvAddr)
	}
	tid, ok := rq.u16AVP(avpTunnelID)
	if !ok || tid == 0 {
		t.Errorf("SCCRQ without an Assigned Tunnel ID: %s", rq)
	}
	t.Logf("SCCRQ from %s: %s, assigned tunnel %d", from, rq, tid)
	l.checkCapture(t, "l2tp.avp.message_type == 1")
	if err := lac.Stop(); err != nil {
		t.Error(err)
	}
	if lac.Running() {
		t.Error("xl2tpd still runs after Stop")
	}
}

// TestXL2TPDPair runs xl2tpd as LAC against xl2tpd as LNS with a tunnel
// secret: both must log the tunnel and the call as established.
func TestXL2TPDPair(t *testing.T) {
	l := newLab(t)
	lns := peers.XL2TPDLNS(t, l.Lab, l.srv, srvAddr, peers.TunnelSecret("labsecret"))
	lac := peers.XL2TPDLAC(t, l.Lab, l.cli, cliAddr, srvAddr, peers.TunnelSecret("labsecret"))
	if err := lac.Dial(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*peers.XL2TPDPeer{lac, lns} {
		line, err := p.WaitCall(10 * time.Second)
		if err != nil {
			t.Fatalf("%v\n%s", err, p.Log())
		}
		t.Logf("%s: %s", p.Name, line)
		if len(p.Tunnels()) != 1 {
			t.Errorf("%s: tunnels %q, want one", p.Name, p.Tunnels())
		}
	}
	t.Logf("LNS events: %q", lns.Events())
	// tshark shows the Challenge (11) and Challenge Response (13) AVPs.
	l.checkCapture(t, "l2tp.avp.type == 13")
}

func TestFreeRADIUS(t *testing.T) {
	l := newLab(t)
	users := []peers.User{peers.LabUser, {Name: "other", Password: "otherpw"}}
	rad := peers.FreeRADIUS(t, l.Lab, l.srv, users...)
	t.Logf("freeradius ready in %v", rad.Startup)
	peers.Require(t, "radtest")
	cases := []struct {
		user, pass, method string
		want               bool
	}{
		{"labuser", "labpass", "pap", true},
		{"labuser", "labpass", "chap", true},
		{"other", "otherpw", "mschap", true},
		{"labuser", "wrong", "pap", false},
		{"nobody", "labpass", "chap", false},
	}
	for _, c := range cases {
		got, err := rad.Authenticate(c.user, c.pass, c.method)
		if err != nil {
			t.Fatalf("%s/%s %s: %v", c.user, c.pass, c.method, err)
		}
		if got != c.want {
			t.Errorf("%s/%s %s: accepted %v, want %v", c.user, c.pass, c.method, got, c.want)
		}
	}
}

func TestL2TPNS(t *testing.T) {
	l := newLab(t)
	rad := peers.FreeRADIUS(t, l.Lab, l.srv)
	lns := peers.L2TPNS(t, l.Lab, l.srv, srvAddr, rad)
	logOnFailure(t, &lns.Daemon)
	t.Logf("freeradius ready in %v, l2tpns in %v", rad.Startup, lns.Startup)
	probeLNS(t, l, lns.AddrPort())
	for _, s := range []string{peers.L2TPNSNewTunnel, peers.L2TPNSSentSCCRP, peers.L2TPNSStopCCN} {
		if _, err := lns.WaitLog(s, 5*time.Second); err != nil {
			t.Error(err)
		}
	}
	l.checkCapture(t, "l2tp.avp.message_type == 2")
	if !lns.Running() {
		t.Errorf("l2tpns exited:\n%s", lns.Log())
	}
	if _, err := os.Stat("/etc/l2tpns/startup-config"); err == nil {
		// The host's file must be the packaged one, not ours.
		data, _ := os.ReadFile("/etc/l2tpns/startup-config")
		if strings.Contains(string(data), lns.Dir) {
			t.Errorf("the private configuration leaked onto the host's /etc/l2tpns")
		}
	}
	if t.Failed() {
		t.Logf("l2tpns log:\n%s", lns.Log())
	}
}

func TestSoftEther(t *testing.T) {
	l := newLab(t)
	se := peers.SoftEther(t, l.Lab, l.srv, srvAddr)
	t.Logf("softether ready in %v", se.Startup)
	probeLNS(t, l, se.AddrPort())
	l.checkCapture(t, "l2tp.avp.message_type == 2")
	if !se.Running() {
		t.Errorf("vpnserver exited:\n%s", se.Log())
	}
	for _, d := range []string{"/var/lib/softether", "/var/log/softether", "/run/softether"} {
		if ents, err := os.ReadDir(d); err == nil && len(ents) > 0 {
			t.Errorf("%s on the host is not empty: the private directories leaked", d)
		}
	}
	cfg, err := os.ReadFile(se.ConfigPath)
	if err != nil || !strings.Contains(string(cfg), "bool DisableNatTraversal true") {
		t.Errorf("vpn_server.config does not disable NAT traversal (%v)", err)
	}
	if t.Failed() {
		t.Logf("softether log:\n%s\nvpncmd:\n%s", se.Log(), se.SetupOutput)
	}
}

func TestVPNCmdFailures(t *testing.T) {
	out := `Connection has been established with VPN Server "localhost" (port 5555).

VPN Server>HubCreate LAB /PASSWORD:hubpw
HubCreate command - Create New Virtual Hub
The command completed successfully.

VPN Server/LAB>UserCreate labuser /GROUP:none
UserCreate command - Create User
Error occurred. (Error code: 29)
VPN Server/LAB>VpnAzureSetEnable no
VpnAzureSetEnable command - Enable / Disable VPN Azure Function
Error occurred. (Error code: 33)
Unsupported.
VPN Server/LAB>KeepDisable
The command completed successfully.
`
	got := peers.VPNCmdFailures(out)
	if len(got) != 1 || got[0] != "UserCreate" {
		t.Errorf("failures %q, want [UserCreate]", got)
	}
}

func TestSSHasListener(t *testing.T) {
	out := `UNCONN 0      0          127.0.0.1:18120      0.0.0.0:*
UNCONN 0      0         198.18.0.2:1701       0.0.0.0:*
UNCONN 0      0            0.0.0.0:500        0.0.0.0:*
UNCONN 0      0               [::]:1812          [::]:*
UNCONN 0      0             0.0.0.0%lo:4500    0.0.0.0:*
`
	a2, a3 := netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("198.18.0.3")
	cases := []struct {
		addr netip.Addr
		port uint16
		want bool
	}{
		{a2, 1701, true},
		{a3, 1701, false},
		{a3, 500, true},
		{a3, 1812, true},
		{a2, 4500, true},
		{a2, 18120, false},
		{a2, 170, false},
		{netip.MustParseAddr("127.0.0.1"), 18120, true},
	}
	for _, c := range cases {
		if got := peers.SSHasListener(out, c.addr, c.port); got != c.want {
			t.Errorf("%s:%d: %v, want %v", c.addr, c.port, got, c.want)
		}
	}
}

func TestRequireSkips(t *testing.T) {
	if os.Getenv(peers.RequireEnv) == "1" {
		t.Skipf("%s=1 turns the skip into a failure", peers.RequireEnv)
	}
	skipped := false
	t.Run("missing", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		peers.Require(t, "sh", "/no/such/peer-binary")
		t.Error("Require did not stop the test")
	})
	if !skipped {
		t.Error("Require did not skip")
	}
	t.Run("present", func(t *testing.T) {
		peers.Require(t, "sh")
	})
}

// TestXL2TPDLACToL2TPNS brings a tunnel and a call up between two real
// peers: xl2tpd as LAC, l2tpns as LNS (PPP then fails on the xl2tpd side:
// no pppd here).
func TestXL2TPDLACToL2TPNS(t *testing.T) {
	l := newLab(t)
	rad := peers.FreeRADIUS(t, l.Lab, l.srv)
	lns := peers.L2TPNS(t, l.Lab, l.srv, srvAddr, rad)
	logOnFailure(t, &lns.Daemon)
	lac := peers.XL2TPDLAC(t, l.Lab, l.cli, cliAddr, srvAddr)
	logOnFailure(t, &lac.Daemon)
	if err := lac.Dial(); err != nil {
		t.Fatal(err)
	}
	line, err := lac.WaitCall(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", line)
	if _, err := lns.WaitLog(peers.L2TPNSNewTunnel, 5*time.Second); err != nil {
		t.Error(err)
	}
	// ICCN (message type 12) went from the LAC to l2tpns.
	l.checkCapture(t, "l2tp.avp.message_type == 12")
}

// TestSyslogSink: datagrams in syslog(3)'s format become lines of the
// log without their <PRI> prefix; odd ones are kept as they are.
func TestSyslogSink(t *testing.T) {
	path := filepath.Join(t.TempDir(), "syslog")
	sock := peers.SyslogSink(t, path)
	c, err := net.Dial("unixgram", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, m := range []string{"<30>Dec  2 02:14:44 pptpd[31525]: CTRL: hello\n", "no priority", "<>x", "<1234567>long\x00"} {
		if _, err := c.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	want := "Dec  2 02:14:44 pptpd[31525]: CTRL: hello\nno priority\n<>x\n<1234567>long\n"
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if string(b) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("log %q, want %q", b, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPPTPPair: pptp-linux against pptpd, each with pppstdio as its
// pppd: the control connection, the call and PPP come up (MS-CHAPv2,
// pptpd's addresses), and pings cross the GRE data plane — the two peers
// and the stand-in work before vpdn is put on either side.
func TestPPTPPair(t *testing.T) {
	peers.Require(t, "pptpd", "pptp", "ping")
	l := newLab(t)
	standIn := nstest.GoBuild(t, "pppstdio")
	pd := peers.PPTPD(t, l.Lab, l.srv, srvAddr, peers.PPTPConfig{StandIn: standIn})
	t.Logf("pptpd ready in %v", pd.Startup)
	pc := peers.PPTPClient(t, l.Lab, l.cli, srvAddr, peers.PPTPConfig{StandIn: standIn})
	local, peer, err := pc.PPPUp(30 * time.Second)
	if err != nil {
		t.Fatalf("%v\npptp:\n%s\npptpd:\n%s", err, pc.Log(), pd.Log())
	}
	if local != pd.Remote || peer != pd.Local {
		t.Errorf("pptp's end has %s peer %s, want %s peer %s", local, peer, pd.Remote, pd.Local)
	}
	for _, w := range []struct {
		d    *peers.PPTPPeer
		line string
	}{{pd, peers.PPTPDControlUp}, {pd, peers.PPTPDCallUp}, {pc, peers.PPTPCallUp}} {
		line, err := w.d.WaitLog(w.line, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %s", w.d.Name, line)
	}
	if out, err := l.cli.Run(20*time.Second, "ping", "-c", "3", "-W", "2", peer.String()); err != nil {
		t.Fatalf("ping %s: %v\n%s", peer, err, out)
	}
	if err := pc.Stop(); err != nil {
		t.Error(err)
	}
	if _, err := pd.WaitLog(peers.PPTPDControlDown, 10*time.Second); err != nil {
		t.Error(err)
	}
}
