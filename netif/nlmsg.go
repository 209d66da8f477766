package netif

// Netlink messages for rtnetlink (RFC 3549 §2.2, rtnetlink(7)): an encoder
// and decoders, no I/O. Every netlink message is a header and a payload,
// padded to 4 octets; integers are in host byte order, addresses in
// network order.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                 Length (header and payload)                   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|             Type              |             Flags             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                       Sequence Number                         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                      Process (port) ID                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  family header (ifinfomsg 16, ifaddrmsg 8, rtmsg 12 octets),  |
//	|  then attributes: Length (2) Type (2) Value, each padded to 4 |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

const (
	nlHdrLen     = unix.NLMSG_HDRLEN // 16
	nlAttrHdrLen = 4
	ifInfoLen    = unix.SizeofIfInfomsg // 16
	ifAddrLen    = unix.SizeofIfAddrmsg // 8
	rtMsgLen     = unix.SizeofRtMsg     // 12

	// nlaTypeMask clears the nested and byte-order flags of an
	// attribute type (NLA_F_NESTED, NLA_F_NET_BYTEORDER).
	nlaTypeMask = 0x3fff

	// in6AddrGenModeNone is IN6_ADDR_GEN_MODE_NONE: the kernel makes no
	// IPv6 link-local address for the link.
	in6AddrGenModeNone = 1
)

var ne = binary.NativeEndian

func nlAlign(n int) int { return (n + 3) &^ 3 }

// nlBuilder appends netlink messages to b. Several messages may be built
// one after another into one buffer.
type nlBuilder struct {
	b     []byte
	start int
}

// begin starts a message.
func (m *nlBuilder) begin(typ, flags uint16, seq uint32) {
	m.start = len(m.b)
	m.b = ne.AppendUint32(m.b, 0) // length, set by end
	m.b = ne.AppendUint16(m.b, typ)
	m.b = ne.AppendUint16(m.b, flags)
	m.b = ne.AppendUint32(m.b, seq)
	m.b = ne.AppendUint32(m.b, 0) // port ID: the kernel's is 0
}

// end sets the length of the message begun last.
func (m *nlBuilder) end() {
	ne.PutUint32(m.b[m.start:], uint32(len(m.b)-m.start))
}

// ifinfo appends an ifinfomsg (rtnetlink(7)).
func (m *nlBuilder) ifinfo(index int32, flags, change uint32) {
	m.b = append(m.b, unix.AF_UNSPEC, 0)
	m.b = ne.AppendUint16(m.b, 0) // device type
	m.b = ne.AppendUint32(m.b, uint32(index))
	m.b = ne.AppendUint32(m.b, flags)
	m.b = ne.AppendUint32(m.b, change)
}

// ifaddr appends an ifaddrmsg.
func (m *nlBuilder) ifaddr(family, prefixLen, scope uint8, index int32) {
	m.b = append(m.b, family, prefixLen, 0, scope)
	m.b = ne.AppendUint32(m.b, uint32(index))
}

// rtmsg appends an rtmsg.
type rtHdr struct {
	family, dstLen, table, protocol, scope, typ uint8
}

func (m *nlBuilder) rtmsg(h rtHdr) {
	m.b = append(m.b, h.family, h.dstLen, 0, 0, h.table, h.protocol, h.scope, h.typ)
	m.b = ne.AppendUint32(m.b, 0) // flags
}

// attr appends an attribute.
func (m *nlBuilder) attr(typ uint16, v []byte) {
	m.b = ne.AppendUint16(m.b, uint16(nlAttrHdrLen+len(v)))
	m.b = ne.AppendUint16(m.b, typ)
	m.b = append(m.b, v...)
	m.pad()
}

func (m *nlBuilder) pad() {
	for len(m.b)%4 != 0 {
		m.b = append(m.b, 0)
	}
}

func (m *nlBuilder) attrU32(typ uint16, v uint32) {
	m.b = ne.AppendUint16(m.b, nlAttrHdrLen+4)
	m.b = ne.AppendUint16(m.b, typ)
	m.b = ne.AppendUint32(m.b, v)
}

func (m *nlBuilder) attrU8(typ uint16, v uint8) {
	m.b = ne.AppendUint16(m.b, nlAttrHdrLen+1)
	m.b = ne.AppendUint16(m.b, typ)
	m.b = append(m.b, v)
	m.pad()
}

func (m *nlBuilder) attrAddr(typ uint16, a netip.Addr) {
	if a.Is4() {
		v := a.As4()
		m.attr(typ, v[:])
		return
	}
	v := a.As16()
	m.attr(typ, v[:])
}

// nest starts a nested attribute; endNest closes it.
func (m *nlBuilder) nest(typ uint16) int {
	i := len(m.b)
	m.b = ne.AppendUint16(m.b, 0)
	m.b = ne.AppendUint16(m.b, typ|unix.NLA_F_NESTED)
	return i
}

func (m *nlBuilder) endNest(i int) {
	ne.PutUint16(m.b[i:], uint16(len(m.b)-i))
}

// nlMsgs iterates over the netlink messages in a buffer. After next
// returns false, err says whether the buffer was malformed.
type nlMsgs struct {
	b     []byte
	err   error
	typ   uint16
	flags uint16
	seq   uint32
	body  []byte
}

func (it *nlMsgs) next() bool {
	if it.err != nil || len(it.b) == 0 {
		return false
	}
	if len(it.b) < nlHdrLen {
		it.err = fmt.Errorf("netif: netlink message of %d octets, shorter than its header", len(it.b))
		return false
	}
	l := int(ne.Uint32(it.b))
	if l < nlHdrLen || l > len(it.b) {
		it.err = fmt.Errorf("netif: netlink message length %d in %d octets", l, len(it.b))
		return false
	}
	it.typ = ne.Uint16(it.b[4:])
	it.flags = ne.Uint16(it.b[6:])
	it.seq = ne.Uint32(it.b[8:])
	it.body = it.b[nlHdrLen:l]
	it.b = it.b[min(nlAlign(l), len(it.b)):]
	return true
}

// nlAttrs iterates over attributes, with a sticky error like nlMsgs.
type nlAttrs struct {
	b   []byte
	err error
	typ uint16
	val []byte
}

func (it *nlAttrs) next() bool {
	if it.err != nil || len(it.b) < nlAttrHdrLen {
		// Fewer than 4 octets left: padding at most.
		return false
	}
	l := int(ne.Uint16(it.b))
	if l < nlAttrHdrLen || l > len(it.b) {
		it.err = fmt.Errorf("netif: netlink attribute length %d in %d octets", l, len(it.b))
		return false
	}
	it.typ = ne.Uint16(it.b[2:]) & nlaTypeMask
	it.val = it.b[nlAttrHdrLen:l]
	it.b = it.b[min(nlAlign(l), len(it.b)):]
	return true
}

func (it *nlAttrs) u32() (uint32, bool) {
	if len(it.val) != 4 {
		it.err = fmt.Errorf("netif: netlink attribute %d of %d octets, want 4", it.typ, len(it.val))
		return 0, false
	}
	return ne.Uint32(it.val), true
}

func (it *nlAttrs) addr() (netip.Addr, bool) {
	a, ok := netip.AddrFromSlice(it.val)
	if !ok {
		it.err = fmt.Errorf("netif: netlink address attribute %d of %d octets", it.typ, len(it.val))
	}
	return a, ok
}

// nlError decodes the payload of an NLMSG_ERROR message: the error code
// (0 for an acknowledgement) and, with extended acknowledgements
// (NLM_F_ACK_TLVS), the kernel's message. The payload is the negated errno,
// then the request's header (all of the request without NETLINK_CAP_ACK),
// then the TLVs.
func nlError(body []byte, flags uint16) (unix.Errno, string, error) {
	if len(body) < 4+nlHdrLen {
		return 0, "", fmt.Errorf("netif: netlink error message of %d octets", len(body))
	}
	code := int32(ne.Uint32(body))
	if code > 0 || code < -4095 {
		return 0, "", fmt.Errorf("netif: netlink error code %d", code)
	}
	errno := unix.Errno(-code)
	if flags&unix.NLM_F_ACK_TLVS == 0 {
		return errno, "", nil
	}
	off := 4 + nlHdrLen
	if flags&unix.NLM_F_CAPPED == 0 {
		// The whole request is echoed: skip it.
		off = 4 + int(ne.Uint32(body[4:]))
		if off < 4+nlHdrLen || off > len(body) {
			return errno, "", nil
		}
		off = min(4+nlAlign(off-4), len(body))
	}
	it := nlAttrs{b: body[off:]}
	for it.next() {
		if it.typ == unix.NLMSGERR_ATTR_MSG {
			msg := it.val
			for len(msg) > 0 && msg[len(msg)-1] == 0 {
				msg = msg[:len(msg)-1]
			}
			return errno, string(msg), nil
		}
	}
	return errno, "", nil
}

// linkMsg is what is read from an RTM_NEWLINK message.
type linkMsg struct {
	index int32
	flags uint32
	name  string
	mtu   uint32
	mac   net.HardwareAddr
}

func parseLink(body []byte) (linkMsg, error) {
	if len(body) < ifInfoLen {
		return linkMsg{}, fmt.Errorf("netif: link message of %d octets", len(body))
	}
	l := linkMsg{index: int32(ne.Uint32(body[4:])), flags: ne.Uint32(body[8:])}
	it := nlAttrs{b: body[ifInfoLen:]}
	for it.next() {
		switch it.typ {
		case unix.IFLA_IFNAME:
			n := it.val
			for len(n) > 0 && n[len(n)-1] == 0 {
				n = n[:len(n)-1]
			}
			l.name = string(n)
		case unix.IFLA_MTU:
			l.mtu, _ = it.u32()
		case unix.IFLA_ADDRESS:
			l.mac = append(net.HardwareAddr(nil), it.val...)
		}
	}
	return l, it.err
}

// addrMsg is what is read from an RTM_NEWADDR message.
type addrMsg struct {
	index  int32
	prefix netip.Prefix // the local address and prefix length
	peer   netip.Addr   // on point-to-point links, when it differs
}

func parseAddr(body []byte) (addrMsg, error) {
	if len(body) < ifAddrLen {
		return addrMsg{}, fmt.Errorf("netif: address message of %d octets", len(body))
	}
	family, bits := body[0], int(body[1])
	a := addrMsg{index: int32(ne.Uint32(body[4:]))}
	var local, address netip.Addr
	it := nlAttrs{b: body[ifAddrLen:]}
	for it.next() {
		switch it.typ {
		case unix.IFA_LOCAL:
			local, _ = it.addr()
		case unix.IFA_ADDRESS:
			address, _ = it.addr()
		}
	}
	if it.err != nil {
		return addrMsg{}, it.err
	}
	// IFA_LOCAL is the interface's own address; IFA_ADDRESS is the same
	// or, on a point-to-point link, the peer's (rtnetlink(7)).
	if !local.IsValid() {
		local = address
	} else if address.IsValid() && address != local {
		a.peer = address
	}
	if !local.IsValid() {
		return addrMsg{}, errors.New("netif: address message without an address")
	}
	if (family == unix.AF_INET) != local.Is4() || bits > local.BitLen() {
		return addrMsg{}, fmt.Errorf("netif: address message of family %d with %s/%d", family, local, bits)
	}
	a.prefix = netip.PrefixFrom(local, bits)
	return a, nil
}

// routeMsg is what is read from an RTM_NEWROUTE message.
type routeMsg struct {
	Route
	table uint32
	oif   int32
	flags uint32
	typ   uint8
}

func parseRoute(body []byte) (routeMsg, error) {
	if len(body) < rtMsgLen {
		return routeMsg{}, fmt.Errorf("netif: route message of %d octets", len(body))
	}
	family, dstLen := body[0], int(body[1])
	r := routeMsg{table: uint32(body[4]), typ: body[7], flags: ne.Uint32(body[8:])}
	var dst netip.Addr
	it := nlAttrs{b: body[rtMsgLen:]}
	for it.next() {
		switch it.typ {
		case unix.RTA_DST:
			dst, _ = it.addr()
		case unix.RTA_GATEWAY:
			r.Gateway, _ = it.addr()
		case unix.RTA_PREFSRC:
			r.Src, _ = it.addr()
		case unix.RTA_OIF:
			v, _ := it.u32()
			r.oif = int32(v)
		case unix.RTA_PRIORITY:
			v, _ := it.u32()
			r.Metric = int(v)
		case unix.RTA_TABLE:
			r.table, _ = it.u32()
		}
	}
	if it.err != nil {
		return routeMsg{}, it.err
	}
	if !dst.IsValid() {
		// No RTA_DST: the default route of the family.
		switch family {
		case unix.AF_INET:
			dst = netip.IPv4Unspecified()
		case unix.AF_INET6:
			dst = netip.IPv6Unspecified()
		default:
			return routeMsg{}, fmt.Errorf("netif: route message of family %d", family)
		}
	}
	if dstLen > dst.BitLen() {
		return routeMsg{}, fmt.Errorf("netif: route to %s/%d", dst, dstLen)
	}
	r.Dst = netip.PrefixFrom(dst, dstLen)
	return r, nil
}

// appendRoute appends an RTM_NEWROUTE or RTM_DELROUTE for r in the main
// table; index 0: no output interface.
func appendRoute(m *nlBuilder, typ, flags uint16, seq uint32, index int32, r Route) {
	m.begin(typ, unix.NLM_F_REQUEST|unix.NLM_F_ACK|flags, seq)
	a := r.Dst.Addr()
	h := rtHdr{family: family(a), dstLen: uint8(r.Dst.Bits()), table: unix.RT_TABLE_MAIN}
	if typ == unix.RTM_NEWROUTE {
		h.protocol, h.typ = unix.RTPROT_STATIC, unix.RTN_UNICAST
		if !r.Gateway.IsValid() {
			h.scope = unix.RT_SCOPE_LINK
		}
	} else {
		// Any scope, type and protocol: match on destination, link,
		// gateway and metric only.
		h.scope = unix.RT_SCOPE_NOWHERE
	}
	m.rtmsg(h)
	m.attrAddr(unix.RTA_DST, a)
	if index != 0 {
		m.attrU32(unix.RTA_OIF, uint32(index))
	}
	if r.Gateway.IsValid() {
		m.attrAddr(unix.RTA_GATEWAY, r.Gateway)
	}
	if r.Src.IsValid() {
		m.attrAddr(unix.RTA_PREFSRC, r.Src)
	}
	if r.Metric != 0 {
		m.attrU32(unix.RTA_PRIORITY, uint32(r.Metric))
	}
	m.end()
}

// family returns the address family of a.
func family(a netip.Addr) uint8 {
	if a.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}
