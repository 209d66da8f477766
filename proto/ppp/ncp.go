package ppp

import (
	"net/netip"

	wire "github.com/vpdn/vpdn/wire/ppp"
)

// ipcpOptions is the IPCP option handler (RFC 1332 §3, RFC 1877).
type ipcpOptions struct {
	l *Link

	// Our request.
	local    netip.Addr // our address (server) or the one asked for (client)
	sendAddr bool
	wantDNS  [2]bool

	// The peer's side.
	assigned  netip.Addr // address this end gives the peer (server role)
	allocated bool       // assigned came from Allocate and goes back on Release
	peer      netip.Addr // the peer's address as agreed
	dns, nbns [2]netip.Addr
}

var dnsOpt = [2]uint8{wire.IPCPOptPrimaryDNS, wire.IPCPOptSecondaryDNS}

// prepare decides, before IPCP starts in the server role, what the peer
// gets: the authorization's static address, else one from the pool, else
// the configured peer address; DNS and NBNS from the authorization or the
// configuration. It reports false when the link was closed for want of an
// address.
func (o *ipcpOptions) prepare() bool {
	c := &o.l.cfg.IPCP
	if c.Client || o.assigned.IsValid() {
		return true
	}
	authz := o.l.auth.authz
	switch {
	case authz != nil && authz.Address.IsValid():
		o.assigned = authz.Address
	case c.Allocate != nil:
		a, err := c.Allocate(authz)
		if err != nil || !a.Is4() {
			o.l.debugNeg("IPCP: no address for the peer: %v", err)
			o.l.closeWith(CauseNoAddress, "No IP address available")
			return false
		}
		o.assigned, o.allocated = a, true
	case c.Peer.IsValid():
		o.assigned = c.Peer
	}
	o.dns, o.nbns = c.DNS, c.NBNS
	if authz != nil {
		if len(authz.DNS) > 0 {
			o.dns = [2]netip.Addr{}
			copy(o.dns[:], authz.DNS)
		}
		if len(authz.NBNS) > 0 {
			o.nbns = [2]netip.Addr{}
			copy(o.nbns[:], authz.NBNS)
		}
	}
	return true
}

func (o *ipcpOptions) release() {
	if o.allocated && o.l.cfg.IPCP.Release != nil {
		o.l.cfg.IPCP.Release(o.assigned)
	}
	o.allocated = false
}

func (o *ipcpOptions) client() bool { return o.l.cfg.IPCP.Client }

func (o *ipcpOptions) resetOptions() {
	c := &o.l.cfg.IPCP
	o.local = c.Local
	if c.Client {
		if !o.local.IsValid() {
			o.local = netip.IPv4Unspecified()
		}
		o.sendAddr = true
		o.wantDNS = [2]bool{c.RequestDNS, c.RequestDNS}
		o.dns = [2]netip.Addr{}
	} else {
		o.sendAddr = o.local.Is4()
		o.wantDNS = [2]bool{}
	}
}

func (o *ipcpOptions) appendRequest(b []byte) []byte {
	if o.sendAddr {
		b = wire.AppendOptionAddr(b, wire.IPCPOptAddress, o.local)
	}
	for i, want := range o.wantDNS {
		if want {
			b = wire.AppendOptionAddr(b, dnsOpt[i], o.dns[i])
		}
	}
	return b
}

func (o *ipcpOptions) gotAck([]byte) {}

func (o *ipcpOptions) gotNak(opts []byte) {
	it := wire.Options(opts)
	for it.Next() {
		op := it.Option()
		a, err := wire.OptionAddr(op.Value)
		if err != nil || a.IsUnspecified() {
			continue
		}
		switch op.Type {
		case wire.IPCPOptAddress:
			// The client takes the address it is given (RFC 1332 §3.3);
			// a server with a configured address keeps it.
			if o.client() || !o.l.cfg.IPCP.Local.IsValid() {
				o.local, o.sendAddr = a, true
			}
		case wire.IPCPOptPrimaryDNS, wire.IPCPOptSecondaryDNS:
			if i := dnsIndex(op.Type); o.client() && o.wantDNS[i] {
				o.dns[i] = a
			}
		}
	}
}

func dnsIndex(t uint8) int {
	if t == wire.IPCPOptSecondaryDNS || t == wire.IPCPOptSecondaryNBNS {
		return 1
	}
	return 0
}

func (o *ipcpOptions) gotReject(opts []byte) {
	it := wire.Options(opts)
	for it.Next() {
		switch t := it.Option().Type; t {
		case wire.IPCPOptAddress:
			o.sendAddr = false
		case wire.IPCPOptPrimaryDNS, wire.IPCPOptSecondaryDNS:
			o.wantDNS[dnsIndex(t)] = false
		}
	}
}

func (o *ipcpOptions) judge(opts []byte, j *judgement) {
	server := !o.client()
	sawAddr := false
	o.peer = netip.Addr{}
	it := wire.Options(opts)
	for it.Next() {
		op := it.Option()
		switch op.Type {
		case wire.IPCPOptAddress:
			a, err := wire.OptionAddr(op.Value)
			if err != nil {
				j.reject(op)
				continue
			}
			sawAddr = true
			want := o.assigned
			if !server {
				want = o.l.cfg.IPCP.Peer
			}
			switch {
			case want.IsValid() && a != want && (server || a.IsUnspecified()):
				j.nakWith(op, wire.AppendOptionAddr(nil, wire.IPCPOptAddress, want))
			case a.IsUnspecified():
				j.reject(op) // no address to give
			default:
				o.peer = a
			}
		case wire.IPCPOptPrimaryDNS, wire.IPCPOptSecondaryDNS, wire.IPCPOptPrimaryNBNS, wire.IPCPOptSecondaryNBNS:
			a, err := wire.OptionAddr(op.Value)
			var have netip.Addr
			if server {
				if op.Type == wire.IPCPOptPrimaryDNS || op.Type == wire.IPCPOptSecondaryDNS {
					have = o.dns[dnsIndex(op.Type)]
				} else {
					have = o.nbns[dnsIndex(op.Type)]
				}
			}
			switch {
			case err != nil || !have.IsValid():
				j.reject(op) // RFC 1877: Reject when there is nothing to give
			case a != have:
				j.nakWith(op, wire.AppendOptionAddr(nil, op.Type, have))
			}
		default:
			// IP-Compression-Protocol (Van Jacobson), IP-Addresses, ...
			j.reject(op)
		}
	}
	if server && !sawAddr && o.assigned.IsValid() {
		// Solicit the option the peer left out (RFC 1661 §5.3).
		j.nakWith(wire.Option{}, wire.AppendOptionAddr(nil, wire.IPCPOptAddress, o.assigned))
	}
}

func (o *ipcpOptions) up() {
	if !o.peer.IsValid() && o.assigned.IsValid() {
		o.peer = o.assigned
	}
	o.l.ncpUp(wire.ProtoIPCP)
}
func (o *ipcpOptions) down()                          { o.l.ncpDown(o.l.ipcp) }
func (o *ipcpOptions) started()                       {}
func (o *ipcpOptions) finished()                      { o.l.ncpFinished(o.l.ipcp) }
func (o *ipcpOptions) code(wire.Packet) (event, bool) { return evRUC, true }
func (o *ipcpOptions) optionName(t uint8) string      { return wire.IPCPOptionName(t) }

// ipv6cpOptions is the IPv6CP option handler (RFC 5072 §4).
type ipv6cpOptions struct {
	l      *Link
	local  wire.InterfaceID
	peer   wire.InterfaceID
	sendID bool
}

func (o *ipv6cpOptions) randomID(not ...wire.InterfaceID) wire.InterfaceID {
	for {
		var id wire.InterfaceID
		o.l.random(id[:])
		if id.IsZero() {
			continue
		}
		clash := false
		for _, n := range not {
			clash = clash || id == n
		}
		if !clash {
			return id
		}
	}
}

func (o *ipv6cpOptions) resetOptions() {
	if o.local.IsZero() {
		o.local = o.l.cfg.IPv6CP.InterfaceID
		if o.local.IsZero() {
			o.local = o.randomID()
		}
	}
	o.sendID = true
}

func (o *ipv6cpOptions) appendRequest(b []byte) []byte {
	if o.sendID {
		b = wire.AppendOptionInterfaceID(b, o.local)
	}
	return b
}

func (o *ipv6cpOptions) gotAck([]byte) {}

func (o *ipv6cpOptions) gotNak(opts []byte) {
	it := wire.Options(opts)
	for it.Next() {
		op := it.Option()
		if op.Type != wire.IPv6CPOptInterfaceID {
			continue
		}
		// RFC 5072 §4.1: use the suggestion unless it clashes with the
		// peer's identifier; otherwise pick a new one.
		if id, err := wire.OptionInterfaceID(op.Value); err == nil && !id.IsZero() && id != o.peer {
			o.local = id
		} else {
			o.local = o.randomID(o.peer)
		}
	}
}

func (o *ipv6cpOptions) gotReject(opts []byte) {
	it := wire.Options(opts)
	for it.Next() {
		if it.Option().Type == wire.IPv6CPOptInterfaceID {
			o.sendID = false
		}
	}
}

func (o *ipv6cpOptions) judge(opts []byte, j *judgement) {
	o.peer = wire.InterfaceID{}
	it := wire.Options(opts)
	for it.Next() {
		op := it.Option()
		if op.Type != wire.IPv6CPOptInterfaceID {
			j.reject(op) // IPv6-Compression-Protocol and unknown options
			continue
		}
		id, err := wire.OptionInterfaceID(op.Value)
		switch {
		case err != nil:
			j.reject(op)
		case id.IsZero() || (o.sendID && id == o.local):
			// RFC 5072 §4.1: zero, or a collision with ours: suggest a
			// different identifier for the peer.
			j.nakWith(op, wire.AppendOptionInterfaceID(nil, o.randomID(o.local, id)))
		default:
			o.peer = id
		}
	}
}

func (o *ipv6cpOptions) up()                            { o.l.ncpUp(wire.ProtoIPv6CP) }
func (o *ipv6cpOptions) down()                          { o.l.ncpDown(o.l.ipv6cp) }
func (o *ipv6cpOptions) started()                       {}
func (o *ipv6cpOptions) finished()                      { o.l.ncpFinished(o.l.ipv6cp) }
func (o *ipv6cpOptions) code(wire.Packet) (event, bool) { return evRUC, true }
func (o *ipv6cpOptions) optionName(t uint8) string      { return wire.IPv6CPOptionName(t) }

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
