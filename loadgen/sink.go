package loadgen

import (
	"net/netip"

	"github.com/vpdn/vpdn/netif"
)

// The generator's sessions have no interfaces: their "device" is a sink
// that counts the echo replies the data plane delivers to it, and the
// interface host that makes them (sinkHost) does nothing else.

// sinkHost is the netif.Host of the generator's access layer.
type sinkHost struct{ g *gen }

func (h sinkHost) CreateTUN(name string, offload bool) (netif.Device, error) {
	return &sink{s: h.g.byName(name), name: name}, nil
}
func (h sinkHost) CreateTAP(name string) (netif.Device, error) {
	return nil, netif.ErrNoDevice
}
func (sinkHost) SetMTU(string, int) error                            { return nil }
func (sinkHost) SetUp(string) error                                  { return nil }
func (sinkHost) AddPeerAddress(string, netip.Addr, netip.Addr) error { return nil }
func (sinkHost) AddAddress(string, netip.Prefix) error               { return nil }
func (sinkHost) DelAddress(string, netip.Prefix) error               { return nil }
func (sinkHost) Addrs(string) ([]netip.Prefix, error)                { return nil, nil }
func (sinkHost) AddRoute(string, netif.Route) error                  { return nil }
func (sinkHost) DelRoute(string, netif.Route) error                  { return nil }
func (sinkHost) AddGatewayRoute(netip.Prefix, netip.Addr) error      { return nil }
func (sinkHost) DelGatewayRoute(netip.Prefix, netip.Addr) error      { return nil }
func (sinkHost) Exists(string) bool                                  { return false }

// sink is a session's device: written to by the data plane, never read.
type sink struct {
	s    *session
	name string
}

func (d *sink) Read([]byte) (int, error)    { return 0, netif.ErrClosed }
func (d *sink) TryRead([]byte) (int, error) { return 0, netif.ErrWouldBlock }
func (d *sink) Name() string                { return d.name }
func (d *sink) Close() error                { return nil }
func (d *sink) WriteOnly() bool             { return true }

// Write counts an echo reply to the session.
func (d *sink) Write(b []byte) (int, error) {
	if s := d.s; s != nil {
		if id, ok := parseEchoReply(b, s.echo.localAddr()); ok && id == uint16(s.idx) {
			s.echo.got.Add(1)
			s.g.traffic.received.Add(1)
		}
	}
	return len(b), nil
}
