package transport

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// SetTOS sets the Type of Service octet of the datagrams sent (IP_TOS, or
// IPV6_TCLASS on an IPv6 socket), as IPConn.SetTOS does: the pseudowire-
// class's `ip tos value` for L2TPv3 over UDP.
func (u *UDPConn) SetTOS(tos int) error {
	return ipOpts{u.rc, u.v6}.setTOS(tos)
}

// SetTTL sets the Time to Live (Hop Limit) of the datagrams sent.
func (u *UDPConn) SetTTL(ttl int) error { return ipOpts{u.rc, u.v6}.setTTL(ttl) }

// SetDF sets or clears the Don't Fragment bit of the datagrams sent (see
// IPConn.SetDF).
func (u *UDPConn) SetDF(df bool) error { return ipOpts{u.rc, u.v6}.setDF(df) }

// ipOpts applies the IP-level socket options both kinds of bind share.
type ipOpts struct {
	rc interface {
		Control(func(fd uintptr)) error
	}
	v6 bool
}

func (o ipOpts) setTOS(tos int) error {
	if tos < 0 || tos > 255 {
		return errRange("TOS", tos, 0, 255)
	}
	if o.v6 {
		return o.set("IPV6_TCLASS", unix.IPPROTO_IPV6, unix.IPV6_TCLASS, tos)
	}
	return o.set("IP_TOS", unix.IPPROTO_IP, unix.IP_TOS, tos)
}

func (o ipOpts) setTTL(ttl int) error {
	if ttl < 1 || ttl > 255 {
		return errRange("TTL", ttl, 1, 255)
	}
	if o.v6 {
		return o.set("IPV6_UNICAST_HOPS", unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, ttl)
	}
	return o.set("IP_TTL", unix.IPPROTO_IP, unix.IP_TTL, ttl)
}

func (o ipOpts) setDF(df bool) error {
	if o.v6 {
		v := unix.IPV6_PMTUDISC_DONT
		if df {
			v = unix.IPV6_PMTUDISC_DO
		}
		return o.set("IPV6_MTU_DISCOVER", unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, v)
	}
	v := unix.IP_PMTUDISC_DONT
	if df {
		v = unix.IP_PMTUDISC_DO
	}
	return o.set("IP_MTU_DISCOVER", unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, v)
}

func errRange(what string, v, lo, hi int) error {
	return fmt.Errorf("transport: %s %d out of range %d-%d", what, v, lo, hi)
}

func (o ipOpts) set(name string, level, opt, v int) error {
	var serr error
	if err := o.rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), level, opt, v) }); err != nil {
		return fmt.Errorf("transport: %s: %w", name, err)
	}
	if serr != nil {
		return fmt.Errorf("transport: %s %d: %w", name, v, serr)
	}
	return nil
}
