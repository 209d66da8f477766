package daemon

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/config"
	"github.com/vpdn/vpdn/control"
	"github.com/vpdn/vpdn/dataplane"
)

// raView is a snapshot of a remote-access session for show commands.
type raView struct {
	Interface string
	Template  string
	User      string
	LAC       bool
	Local     string
	Peer      string
	Auth      string
	Up        bool
	Connected time.Duration
	Counters  dataplane.Counters
	Key       dataplane.Key
	VCID      uint32
}

func (r *raSession) view() raView {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := raView{Interface: r.name, LAC: r.lac, Up: r.tun != nil || r.shared, Key: r.dp.Key, Counters: r.dp.Counters(),
		User: r.info.Username}
	if r.lac {
		v.Template = r.ifc.Name.String()
		if r.ifc.Pseudowire != nil {
			v.VCID = r.ifc.Pseudowire.VCID
		}
	} else {
		v.Template = r.ifc.Name.String()
	}
	if r.info.LocalAddr.IsValid() {
		v.Local, v.Peer = r.info.LocalAddr.String(), r.info.PeerAddr.String()
	}
	if !r.up.IsZero() {
		v.Connected = time.Since(r.up).Truncate(time.Second)
	}
	v.Auth = authName(r.info.AuthPeer, r.info.AuthSelf)
	return v
}

// authName renders the authentication as IOS does: "MS CHAP V2 (<-->)"
// (mutual), "CHAP (<--)" (we authenticated the peer), "(-->)" (the peer
// authenticated us).
func authName(peer, self aaa.Method) string {
	name := func(m aaa.Method) string {
		switch m {
		case aaa.MSCHAPv2:
			return "MS CHAP V2"
		case aaa.MSCHAPv1:
			return "MS CHAP"
		}
		return m.String()
	}
	switch {
	case peer != 0 && self != 0:
		return name(peer) + " (<-->)"
	case peer != 0:
		return name(peer) + " (<--)"
	case self != 0:
		return name(self) + " (-->)"
	}
	return ""
}

// sessionLabel is the "Username, Intf/Vcid, Circuit" column of the session
// tables for an L2TP session with this key.
func (d *Daemon) sessionLabel(k dataplane.Key) string {
	d.ra.mu.Lock()
	r := d.ra.sessions[k]
	d.ra.mu.Unlock()
	if r == nil {
		return ""
	}
	v := r.view()
	ifc := v.Interface
	if v.LAC {
		return fmt.Sprintf("%d, %s", v.VCID, ifc)
	}
	user := v.User
	if user == "" {
		user = "-"
	}
	return user + ", " + ifc
}

func (d *Daemon) findRA(match func(raView) bool) []*raSession {
	var out []*raSession
	for _, r := range d.ra.list() {
		if match(r.view()) {
			out = append(out, r)
		}
	}
	return out
}

func hmsDur(dur time.Duration) string {
	s := int(dur.Seconds())
	return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
}

func (d *Daemon) registerRAShows() {
	d.shows.Add(&control.Command{Words: "caller user", Args: 1, Help: "a PPP user's session: interface, PPP state, addresses, counters",
		Run: func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			rs := d.findRA(func(v raView) bool { return strings.EqualFold(v.User, args[0]) })
			if len(rs) == 0 {
				return nil, fmt.Errorf("%% No user %q is connected", args[0])
			}
			var b strings.Builder
			var views []raView
			for _, r := range rs {
				v := r.view()
				views = append(views, v)
				fmt.Fprintf(&b, "  User: %s, line %s, service PPPoVPDN\n", v.User, v.Interface)
				fmt.Fprintf(&b, "        Connected for %s, Idle for 00:00:00\n", hmsDur(v.Connected))
				b.WriteString("  Timeouts:            Limit     Remaining Timer Type\n                       -         -         -\n")
				fmt.Fprintf(&b, "  PPP: LCP Open, %s, IPCP\n", v.Auth)
				fmt.Fprintf(&b, "  IP: Local %s, remote %s\n", v.Local, v.Peer)
				c := v.Counters
				fmt.Fprintf(&b, "  Counts: %d packets input, %d bytes, 0 no buffer\n", c.RxPkts, c.RxBytes)
				b.WriteString("          0 input errors, 0 CRC, 0 frame, 0 overrun\n")
				fmt.Fprintf(&b, "          %d packets output, %d bytes, 0 underruns\n", c.TxPkts, c.TxBytes)
				b.WriteString("          0 output errors, 0 collisions, 0 interface resets\n")
			}
			return reply(b.String(), views, asJSON)
		}})
	ifShow := func(kind string) func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
		return func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			name := kind + args[0]
			rs := d.findRA(func(v raView) bool { return v.Interface == name })
			if len(rs) == 0 {
				return nil, fmt.Errorf("%% Interface %s does not exist", longIf(name))
			}
			v := rs[0].view()
			c := d.Config()
			var b strings.Builder
			state := "down"
			if v.Up {
				state = "up"
			}
			fmt.Fprintf(&b, "%s is %s, line protocol is %s\n", longIf(name), state, state)
			if v.LAC {
				b.WriteString("  Hardware is Virtual PPP interface\n")
			} else {
				b.WriteString("  Hardware is Virtual Access interface\n")
			}
			if ifc := c.Interface(mustIf(v.Template)); ifc != nil && ifc.Unnumbered != nil {
				fmt.Fprintf(&b, "  Interface is unnumbered. Using address of %s (%s)\n", ifc.Unnumbered, v.Local)
			} else if v.Local != "" {
				fmt.Fprintf(&b, "  Internet address is %s\n", v.Local)
			}
			fmt.Fprintf(&b, "  Encapsulation PPP, LCP Open\n  Open: IPCP\n")
			if !v.LAC {
				fmt.Fprintf(&b, "  PPPoVPDN vaccess, cloned from %s\n", v.Template)
			}
			fmt.Fprintf(&b, "  Peer address is %s\n", v.Peer)
			fmt.Fprintf(&b, "     %d packets input, %d bytes\n", v.Counters.RxPkts, v.Counters.RxBytes)
			fmt.Fprintf(&b, "     %d packets output, %d bytes\n", v.Counters.TxPkts, v.Counters.TxBytes)
			return reply(b.String(), v, asJSON)
		}
	}
	d.shows.Add(&control.Command{Words: "interfaces virtual-access", Args: 1, Help: "a Virtual-Access interface: addresses, template, counters", Run: ifShow("Vi")})
	d.shows.Add(&control.Command{Words: "interfaces virtual-ppp", Args: 1, Help: "a Virtual-PPP interface", Run: ifShow("Vp")})
	d.shows.Add(&control.Command{Words: "users", Help: "the PPP sessions on virtual interfaces",
		Run: func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			var b strings.Builder
			b.WriteString("  Interface    User               Mode         Idle     Peer Address\n")
			var views []raView
			for _, r := range d.ra.list() {
				v := r.view()
				views = append(views, v)
				user := v.User
				if user == "" {
					user = "-"
				}
				fmt.Fprintf(&b, "  %-12s %-18s %-12s %s %s\n", v.Interface, trunc(user, 18), "PPPoVPDN", "00:00:00", v.Peer)
			}
			return reply(b.String(), views, asJSON)
		}})
	clearIf := func(kind string) func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
		return func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			name := kind + args[0]
			rs := d.findRA(func(v raView) bool { return v.Interface == name })
			if len(rs) == 0 {
				return nil, fmt.Errorf("%% Interface %s does not exist", longIf(name))
			}
			rs[0].end("cleared by administrator")
			return &control.Response{OK: true, Text: longIf(name) + " cleared\n"}, nil
		}
	}
	d.clears.Add(&control.Command{Words: "interface virtual-access", Args: 1, Help: "end the session of a Virtual-Access interface (CDN)", Run: clearIf("Vi")})
	d.clears.Add(&control.Command{Words: "interface virtual-ppp", Args: 1, Help: "end the session of a Virtual-PPP interface; it redials", Run: clearIf("Vp")})
}

func longIf(short string) string {
	if n, err := config.ParseInterfaceName(short); err == nil {
		return n.String()
	}
	return short
}

func mustIf(s string) config.IfName {
	n, _ := config.ParseInterfaceName(s)
	return n
}
