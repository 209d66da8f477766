package netif

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// TAP is a Linux TAP device (IFF_TAP | IFF_NO_PI): every read and write is
// one Ethernet frame, without the frame check sequence. Like a TUN, the
// device exists while the TAP is open, its descriptor is non-blocking, and
// a Poller can watch it.
type TAP struct {
	fdDev
}

// CreateTAP creates the TAP device name in the calling thread's network
// namespace, through System: like System.CreateTAP(name).
func CreateTAP(name string) (*TAP, error) {
	return systemCreateTAP(name)
}

func openTAP(name string) (*TAP, error) {
	fd, kname, err := openTunFd("TAP", name, unix.IFF_TAP|unix.IFF_NO_PI)
	if err != nil {
		return nil, err
	}
	return &TAP{fdDev: fdDev{name: kname, kind: "TAP", fd: fd}}, nil
}

// HardwareAddr returns the TAP's MAC address (netlink RTM_GETLINK).
func (t *TAP) HardwareAddr() (net.HardwareAddr, error) {
	if err := t.usable(); err != nil {
		return nil, err
	}
	return t.host.HardwareAddr(t.name)
}

// SetHardwareAddr sets the TAP's MAC address (netlink RTM_SETLINK).
func (t *TAP) SetHardwareAddr(mac net.HardwareAddr) error {
	if err := t.usable(); err != nil {
		return err
	}
	return t.host.SetHardwareAddr(t.name, mac)
}

func (t *TAP) usable() error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return ErrClosed
	}
	if t.host == nil {
		return fmt.Errorf("netif: TAP %s: no netlink handle", t.name)
	}
	return nil
}
