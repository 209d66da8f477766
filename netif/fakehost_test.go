package netif

import (
	"errors"
	"net/netip"
	"testing"
)

// TestFakeHostBookkeeping: what the scenario does not see — the records a
// test inspects, and the routes that leave with a closed device.
func TestFakeHostBookkeeping(t *testing.T) {
	h := NewFakeHost()
	h.Depth = 2
	d, err := h.CreateTUN("Vi1", true)
	if err != nil {
		t.Fatal(err)
	}
	if f := h.Device("Vi1"); f != d || !f.Offload() || cap(f.inbound) != 2 {
		t.Fatalf("Device(Vi1) = %v", f)
	}
	if h.Device("Vi2") != nil {
		t.Error("Device of a missing link")
	}
	local, peer := netip.MustParseAddr("198.19.0.1"), netip.MustParseAddr("198.19.0.2")
	for _, err := range []error{h.SetMTU("Vi1", 1400), h.AddPeerAddress("Vi1", local, peer), h.SetUp("Vi1"),
		h.AddRoute("Vi1", Route{Dst: netip.MustParsePrefix("198.19.5.0/24")}),
		h.AddGatewayRoute(netip.MustParsePrefix("198.19.8.0/24"), peer)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	l, ok := h.Link("Vi1")
	if !ok || l.MTU != 1400 || !l.Up || !l.Offload || l.TAP || len(l.Addrs) != 1 || l.Addrs[0].Peer != peer {
		t.Errorf("Link(Vi1) = %+v", l)
	}
	if rs := h.AllRoutes(); len(rs) != 2 || rs[0].Dev != "Vi1" || rs[1].Dev != "Vi1" || !rs[1].ByGateway {
		t.Errorf("AllRoutes = %+v", rs)
	}
	tap, err := h.CreateTAP("tap0")
	if err != nil {
		t.Fatal(err)
	}
	tap2, _ := h.CreateTAP("tap1")
	m1, _ := tap.(HardwareAddresser).HardwareAddr()
	m2, _ := tap2.(HardwareAddresser).HardwareAddr()
	if m1.String() == m2.String() || m1[0]&2 == 0 {
		t.Errorf("TAP addresses %v %v", m1, m2)
	}
	if err := tap.(HardwareAddresser).SetHardwareAddr(m1[:3]); err == nil {
		t.Error("a 3-octet MAC accepted")
	}
	if _, err := d.(HardwareAddresser).HardwareAddr(); err == nil {
		t.Error("a TUN with a MAC address")
	}
	if got := h.Links(); len(got) != 3 || got[0] != "Vi1" || got[1] != "tap0" {
		t.Errorf("Links = %v", got)
	}
	d.Close()
	if rs := h.AllRoutes(); len(rs) != 0 {
		t.Errorf("routes left after Close: %+v", rs)
	}
	if err := h.AddGatewayRoute(netip.MustParsePrefix("198.19.8.0/24"), peer); err == nil {
		t.Error("a gateway route with its link gone")
	}
	if _, err := d.Write([]byte{1}); !errors.Is(err, ErrClosed) {
		t.Errorf("Write to a closed Fake: %v", err)
	}
}
