// Package netif is the kernel boundary of the data plane: TUN and TAP
// devices, a Poller that reads many of them on a few goroutines, and the
// Host interface that creates devices and gives them MTUs, addresses and
// routes — System (the kernel, through netlink) or a FakeHost (in memory,
// for tests that run without root).
//
// Devices are raw non-blocking descriptors: TryRead and Write never wait,
// a Poller watches a device without a goroutine or buffer of its own, and
// Read (for code that still reads with a goroutine) waits on the Go
// runtime's poller. Fakes stand in for devices in tests and run inside a
// testing/synctest bubble.
//
// Kernel speaks rtnetlink (RFC 3549, rtnetlink(7)) through
// github.com/vishvananda/netlink, with one persistent handle (one socket)
// per network namespace, and remembers the index of the devices it
// created, so configuring a device costs one request. Devices it creates
// have IPv6 disabled until an IPv6 address is added (see
// Kernel.CreateTUN). Kernel and FakeHost report the routes through their
// devices as they come and go (WatchRoutes), for strict unicast RPF on
// routes a routing protocol installs through a session's interface.
package netif
