package daemon

// PPP pseudowires over L2TPv3 (document 004's "Configure for L2TPv3"):
// `interface Virtual-PPP N` with `pseudowire PEER VCID pw-class NAME`
// whose pseudowire-class has `encapsulation l2tpv3` / `protocol l2tpv3
// [CLASS]`. The session is a dynamic L2TPv3 one of pseudowire type PPP
// (0x0007, RFC 3931 §10.6's registry; its own specification,
// draft-ietf-l2tpext-pwe3-ppp, expired), signalled exactly as the dynamic
// Ethernet xconnects are (xconnect_dyn.go): the end whose Router ID is
// lower places it (ICRQ with the VCID as Remote End ID), the other
// matches its own Virtual-PPP by peer, VCID and pseudowire type. Its data
// messages carry PPP frames with the HDLC address and control fields
// FF 03 in front, as L2TPv2's do (RFC 2661 §3.1 leaves them to the
// frame; document 004 counts "L2TPv3 (4 bytes) + HDLC (4 bytes)" of
// overhead, and Wireshark's PPP pseudowire dissector takes HDLC-framed
// PPP). PPP itself is the access layer's, as for an L2TPv2 Virtual-PPP:
// a client session on the Virtual-PPP interface with its authentication,
// IPCP and routes, redialled by the dial loop when it drops.

import (
	"fmt"
	"time"

	"github.com/vpdn/vpdn/access"
	"github.com/vpdn/vpdn/carrier/l2tpv2"
	"github.com/vpdn/vpdn/config"
	"github.com/vpdn/vpdn/dataplane"
	l2tpproto "github.com/vpdn/vpdn/proto/l2tp"
	"github.com/vpdn/vpdn/show"
	"github.com/vpdn/vpdn/wire/l2tp"
)

// v3PPPClass is the pseudowire-class of ifc when ifc is a Virtual-PPP
// interface whose pseudowire runs over L2TPv3; nil otherwise (an L2TPv2
// one is runVirtualPPP's).
func v3PPPClass(c *config.Config, ifc *config.Interface) *config.PWClass {
	if ifc.Pseudowire == nil || ifc.Name.Kind != config.IfVirtualPPP {
		return nil
	}
	pc := c.PWClassByName(ifc.Pseudowire.PWClass)
	if pc == nil || (pc.Encapsulation != "l2tpv3" && pc.Protocol != "l2tpv3") {
		return nil
	}
	return pc
}

// pppPseudowire is the xconnect entry of a Virtual-PPP interface's L2TPv3
// pseudowire: a dynamic xconnect of type PPP whose attachment is a PPP
// session rather than a device.
func pppPseudowire(c *config.Config, ifc *config.Interface, pc *config.PWClass, uid uint32) *pseudowire {
	p := ifc.Pseudowire
	x := &config.Xconnect{Peer: p.Peer, VCID: p.VCID, PWClass: p.PWClass}
	pw := &pseudowire{ifc: ifc, x: x, pc: pc, uid: uid, udp: pc.IPProtocol == "udp", opts: classOpts(pc),
		state: "down", since: time.Now(), ppp: true}
	pw.dyn = newDynPW(c, pw)
	pw.dyn.typ = l2tp.PWPPP
	return pw
}

// v3Bearer is an L2TPv3 PPP pseudowire as the access layer sees it.
type v3Bearer struct {
	s    *l2tpproto.Pseudowire
	info access.BearerInfo
}

func (b *v3Bearer) Close(c access.Cause)    { b.s.Close(l2tpv2.CDNResult(c)) }
func (b *v3Bearer) Info() access.BearerInfo { return b.info }

// installPPP opens the PPP session of pw's pseudowire s in the access
// layer (installing it in the data plane) before our last set-up message
// goes out; PPP starts when the session is up (startPPP).
func (d *Daemon) installPPP(rt *runtime, pw *pseudowire, s *l2tpproto.Pseudowire, in l2tpproto.PWInfo) {
	dy := pw.dyn
	pw.mu.Lock()
	defer pw.mu.Unlock()
	if dy.active != nil {
		return
	}
	prof, err := d.profile(d.Config(), pw.ifc, access.Client)
	if err != nil {
		pw.errMsg = err.Error()
		return
	}
	if pw.ifc.MTU == 0 {
		prof.MTU = min(prof.MTU, v3PPPMTU(dy.vb.udp, in))
	}
	seq := pw.pc.Sequencing
	p := dataplane.L2TPv3Params{UDP: dy.vb.udp, RemoteSession: in.RemoteSessionID, LocalCookie: in.LocalCookie,
		RemoteCookie: in.RemoteCookie, L2SS: in.L2SS, SeqTx: in.SendSeq || seq == "transmit" || seq == "both",
		SeqRx: in.RecvSeq}
	b := &v3Bearer{s: s, info: access.BearerInfo{Protocol: "L2TPv3", LocalID: in.LocalSessionID,
		RemoteID: in.RemoteSessionID, TunnelID: in.LocalCCID, Peer: in.Peer, TunnelName: in.PeerName,
		NASPortType: 5}} // RFC 2865 §5.41: Virtual
	as, err := rt.access.Open(b, access.DataSpec{Key: dataplane.L2TPv3Key(in.LocalSessionID), Peer: in.Peer,
		Bind: dy.vb.bind, Encap: dataplane.NewL2TPv3Encap(p), AddressControl: true}, prof)
	if err != nil {
		pw.errMsg = err.Error()
		return
	}
	dy.active, dy.info, dy.remote = s, in, in.RemoteCircuit
	pw.as, pw.sess, pw.state, pw.since, pw.errMsg = as, as.Data(), "est", time.Now(), ""
	d.log.Info("L2TPv3 PPP pseudowire up", "interface", pw.ifc.Name.String(), "peer", pw.x.Peer.String(),
		"vcid", pw.x.VCID, "local_session", in.LocalSessionID, "remote_session", in.RemoteSessionID,
		"control_connection", in.LocalCCID)
}

// startPPP starts PPP on pw's session once the pseudowire is established
// (ICCN sent or received), and ends the pseudowire when PPP ends.
func (d *Daemon) startPPP(xs *xconnects, pw *pseudowire, s *l2tpproto.Pseudowire) {
	pw.mu.Lock()
	as := pw.as
	pw.mu.Unlock()
	if as == nil {
		return
	}
	as.LowerUp()
	ctx := xs.ctx
	xs.done.Go(func() {
		select {
		case <-as.Done():
		case <-ctx.Done():
			return
		}
		c, why := as.Cause()
		r := l2tpv2.CDNResult(c)
		if r.HasError && r.Message == "" {
			r.Message = why
		}
		s.Close(r)
	})
}

// stopPPP ends pw's PPP session when its pseudowire went down.
func stopPPP(pw *pseudowire, err error) {
	if as := pw.as; as != nil {
		as.LowerDown(access.CauseLostService, fmt.Sprint(err))
	}
	pw.as = nil
}

// v3PPPSnapshot adds the PPP pseudowires' sessions to show vpdn and show
// l2tun session, as an L2TPv2 Virtual-PPP's are (document 004: "1, Vp1"
// in the Username, Intf/Vcid column, the 32-bit IDs of L2TPv3).
func (d *Daemon) v3PPPSnapshot(rt *runtime, v *show.VPDN, byKey map[dataplane.Key]access.View) {
	xs := rt.xc
	if xs == nil {
		return
	}
	xs.mu.Lock()
	defer xs.mu.Unlock()
	for _, pw := range xs.pws {
		if !pw.ppp {
			continue
		}
		pw.mu.Lock()
		in, active := pw.dyn.info, pw.dyn.active != nil
		since, uid := pw.since, pw.uid
		pw.mu.Unlock()
		if !active {
			continue
		}
		ses := show.Session{Protocol: show.L2TP, LocalID: in.LocalSessionID, RemoteID: in.RemoteSessionID,
			TunnelID: in.LocalCCID, RemoteTunnelID: in.RemoteCCID, RemoteName: in.PeerName,
			RemoteAddress: in.Peer.Addr().String(), VCID: pw.x.VCID, Interface: pw.ifc.Name.Short(),
			State: "est", StateName: "established", LastChange: since, UniqueID: uid, Sequencing: in.SendSeq || in.RecvSeq}
		if vw, ok := byKey[dataplane.L2TPv3Key(in.LocalSessionID)]; ok {
			ses.Interface, ses.User = vw.Interface, vw.User
			ses.Counters = counters(vw.Counters)
		}
		v.Sessions = append(v.Sessions, ses)
	}
}

// withoutPWs drops from v the sessions of the pseudowires that pws lists
// (show l2tp session and show l2tun tunnel render those as pseudowires).
func withoutPWs(v show.VPDN, pws []show.PWSession) show.VPDN {
	in := func(s show.Session) bool {
		for _, p := range pws {
			// A PPP pseudowire's PPP session, or an Ethernet one
			// (vpdnSnapshot lists both among L2TP's sessions for show
			// vpdn; show l2tp session lists them as pseudowires).
			if p.LocalID == s.LocalID && p.TunnelID == s.TunnelID && p.LocalID != 0 && (p.CircuitType == "PPP" || p.Interface == s.Interface) {
				return true
			}
		}
		return false
	}
	out := v
	out.Sessions = nil
	for _, s := range v.Sessions {
		if !in(s) {
			out.Sessions = append(out.Sessions, s)
		}
	}
	return out
}

// v3PPPMTU is the largest IP packet a PPP pseudowire carries without
// fragmenting a 1500-octet underlay: the outer IPv4 header (20), over
// UDP its header and the L2TPv3 one's first word (8 + 4, RFC 3931
// §4.1.2.1), the Session ID (4), the cookie, the default L2-Specific
// Sublayer when the session has one (4, §4.6), and the PPP address,
// control and protocol fields (4). Over UDP with a 4-octet cookie it is
// 1456, below L2TPv2's 1460: a train of segments sized for 1460 would
// not fit, and the kernel refuses such a UDP_SEGMENT send (EMSGSIZE).
func v3PPPMTU(udp bool, in l2tpproto.PWInfo) int {
	over := 20 + 4 + in.RemoteCookie.Len() + 4
	if udp {
		over += 8 + 4
	}
	if in.L2SS {
		over += 4
	}
	return 1500 - over
}
