package netif

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// WatchRoutes calls f for every IPv4 and IPv6 route of the main table
// through a device appearing (del false) or going (del true), until stop
// is called; f runs on a goroutine of the watcher's, one call at a time,
// and must not block for long. Routes that exist when the watch starts are
// not reported. dev is the device name.
//
// The Kernel reports the routes through the devices it created (a routing
// protocol's, the ones netif installs, and those the kernel makes for an
// address), from the kernel's route notifications (rtnetlink(7),
// RTNLGRP_IPV4_ROUTE and RTNLGRP_IPV6_ROUTE) on a subscription of its
// own in k's namespace; it may be called from any thread. A route
// replaced by one through other devices (NLM_F_REPLACE, as a routing
// daemon changes a next hop) is reported gone from the devices it left;
// each next hop of a multipath route counts as a route through its
// device; the routes through a device of k's that closes are reported
// gone (the kernel tells of the IPv6 ones only); a route from before the
// watch is reported when it goes. When the kernel drops notifications
// (the subscription's buffer overflowed), the watch subscribes again and
// reports the differences between what it reported and the kernel's
// routes then, which may include routes from before the watch.
//
// stop closes the subscription and waits for the goroutine; it must not
// be called from f. Kernel.Close stops the watches of k.
func (k *Kernel) WatchRoutes(f func(dev string, dst netip.Prefix, del bool)) (stop func(), err error) {
	if f == nil {
		return nil, errors.New("netif: route watch without a function")
	}
	w := &routeWatch{k: k, f: f, stopc: make(chan struct{}), finished: make(chan struct{}), gone: make(chan struct{}, 1),
		links: map[int32]*watchedLink{}, via: map[watchKey][]int32{}}
	k.hmu.RLock()
	defer k.hmu.RUnlock()
	s, err := w.subscribeLocked()
	if err != nil {
		return nil, fmt.Errorf("netif: route notifications: %w", err)
	}
	k.mu.Lock()
	k.watches[w] = struct{}{}
	k.mu.Unlock()
	go w.run(s)
	return w.stop, nil
}

// watchKey is what tells routes of one table apart: destination, TOS and
// priority for IPv4 (fib_table_insert), destination and metric for IPv6.
type watchKey struct {
	dst    netip.Prefix
	tos    int
	metric int
}

// routeWatch is one WatchRoutes. Its goroutine alone uses links and via.
type routeWatch struct {
	k *Kernel
	f func(dev string, dst netip.Prefix, del bool)

	stopc    chan struct{} // closed by stop
	stopOnce sync.Once
	finished chan struct{} // closed when the goroutine ends

	gone    chan struct{} // a device of k's went: see goneIdx
	gmu     sync.Mutex
	goneIdx []int32

	links map[int32]*watchedLink // the routes reported, by device
	via   map[watchKey][]int32   // the same, by route
	hops  []int32                // scratch

	resyncs atomic.Int32 // subscriptions made again (for tests)
}

type watchedLink struct {
	name   string
	routes map[watchKey]struct{}
}

// subscription is one of the library's route subscriptions: it sends on
// ch until done is closed, then closes ch.
type subscription struct {
	ch   chan netlink.RouteUpdate
	done chan struct{}
}

// watchRcvBufLen is the receive buffer asked for a subscription: room for
// some ten thousand notifications, a routing daemon's burst at start.
const watchRcvBufLen = 8 << 20

// rcvBufForce reports whether this process may set a socket's receive
// buffer past net.core.rmem_max (SO_RCVBUFFORCE: CAP_NET_ADMIN in the
// initial user namespace). The library does not close the socket of a
// subscription whose buffer it could not set, so this is tried first on a
// socket of our own.
var rcvBufForce = sync.OnceValue(func() bool {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, watchRcvBufLen) == nil
})

// subscribeLocked opens a subscription in k's namespace. Called with
// k.hmu held for reading.
func (w *routeWatch) subscribeLocked() (*subscription, error) {
	k := w.k
	if k.closed {
		return nil, errKernelClosed
	}
	s := &subscription{ch: make(chan netlink.RouteUpdate, 64), done: make(chan struct{})}
	opts := netlink.RouteSubscribeOptions{ReceiveBufferSize: watchRcvBufLen, ReceiveBufferForceSize: rcvBufForce()}
	if k.watchRcvBuf > 0 {
		opts.ReceiveBufferSize = k.watchRcvBuf
	}
	if k.ns != (nsID{}) {
		// From a thread of another namespace, the library enters k's
		// for the socket (setns, on a locked thread) and comes back.
		if id, err := threadNS(); err == nil && id != k.ns {
			if !k.nsh.IsOpen() {
				return nil, errors.New("netif: the calling thread is not in the Kernel's network namespace")
			}
			nsh := k.nsh
			opts.Namespace = &nsh
		}
	}
	if err := netlink.RouteSubscribeWithOptions(s.ch, s.done, opts); err != nil {
		return nil, err
	}
	return s, nil
}

func (w *routeWatch) subscribe() (*subscription, error) {
	w.k.hmu.RLock()
	defer w.k.hmu.RUnlock()
	return w.subscribeLocked()
}

func (w *routeWatch) stop() {
	w.stopOnce.Do(func() { close(w.stopc) })
	<-w.finished
	w.k.mu.Lock()
	delete(w.k.watches, w)
	w.k.mu.Unlock()
}

// linkGone tells the watch that the device of that index went. Called
// with k.mu held; never blocks.
func (w *routeWatch) linkGone(index int32) {
	w.gmu.Lock()
	w.goneIdx = append(w.goneIdx, index)
	w.gmu.Unlock()
	select {
	case w.gone <- struct{}{}:
	default:
	}
}

// maxQuietResubscribes bounds the subscriptions made again in a row
// without a notification between them; then the watch gives up.
const maxQuietResubscribes = 3

func (w *routeWatch) run(s *subscription) {
	defer close(w.finished)
	quiet := 0
	for {
		select {
		case u, ok := <-s.ch:
			if ok {
				quiet = 0
				w.update(&u)
				continue
			}
			// The subscription ended without stop: the kernel
			// dropped notifications (ENOBUFS, the socket's buffer
			// was full) or reading failed. Closing done closes
			// its socket.
			close(s.done)
			if quiet++; quiet > maxQuietResubscribes {
				return
			}
			var err error
			if s, err = w.subscribe(); err != nil {
				return
			}
			w.resyncs.Add(1)
			w.resync()
		case <-w.gone:
			w.dropGone()
		case <-w.stopc:
			close(s.done)
			for range s.ch {
				// The library's goroutine may be sending: let it
				// see the closed socket and close ch.
			}
			return
		}
	}
}

// unicastMain reports whether a route is one the watch is about: unicast,
// in the main table, not a cached clone.
func unicastMain(r *netlink.Route) bool {
	return r.Table == unix.RT_TABLE_MAIN && r.Type == unix.RTN_UNICAST && r.Flags&unix.RTM_F_CLONED == 0
}

// hopsOf appends the devices a route goes through: its output interface,
// or each next hop's of a multipath route.
func hopsOf(hops []int32, r *netlink.Route) []int32 {
	if len(r.MultiPath) == 0 {
		if r.LinkIndex > 0 {
			hops = append(hops, int32(r.LinkIndex))
		}
		return hops
	}
	for _, nh := range r.MultiPath {
		if nh.LinkIndex > 0 && !slices.Contains(hops, int32(nh.LinkIndex)) {
			hops = append(hops, int32(nh.LinkIndex))
		}
	}
	return hops
}

func (w *routeWatch) update(u *netlink.RouteUpdate) {
	r := &u.Route
	if !unicastMain(r) {
		return
	}
	dst, ok := prefixOf(r)
	if !ok {
		return
	}
	key := watchKey{dst: dst, tos: r.Tos, metric: r.Priority}
	w.hops = hopsOf(w.hops[:0], r)
	switch u.Type {
	case unix.RTM_DELROUTE:
		for _, i := range w.hops {
			w.remove(key, i, true)
		}
	case unix.RTM_NEWROUTE:
		if u.NlFlags&unix.NLM_F_REPLACE != 0 {
			// The route replaced the one of the same key: the
			// devices it no longer goes through lost it.
			for _, i := range slices.Clone(w.via[key]) {
				if !slices.Contains(w.hops, i) {
					w.remove(key, i, false)
				}
			}
		}
		for _, i := range w.hops {
			w.add(key, i)
		}
	}
}

// add records and reports the route key through device index, if the
// device is one of k's and the route was not reported yet.
func (w *routeWatch) add(key watchKey, index int32) {
	wl := w.links[index]
	if wl != nil {
		if _, ok := wl.routes[key]; ok {
			return
		}
	}
	name, ok := w.k.nameOf(index)
	if !ok {
		return
	}
	if wl == nil || wl.name != name {
		wl = &watchedLink{name: name, routes: map[watchKey]struct{}{}}
		w.links[index] = wl
	}
	wl.routes[key] = struct{}{}
	w.via[key] = append(w.via[key], index)
	w.f(name, key.dst, false)
}

// remove reports the route key through device index gone, if it was
// reported, or if unreported (a route from before the watch that the
// kernel deleted) when the device is one of k's.
func (w *routeWatch) remove(key watchKey, index int32, unreported bool) {
	if wl := w.links[index]; wl != nil {
		if _, ok := wl.routes[key]; ok {
			delete(wl.routes, key)
			if len(wl.routes) == 0 {
				delete(w.links, index)
			}
			if v := slices.DeleteFunc(w.via[key], func(i int32) bool { return i == index }); len(v) > 0 {
				w.via[key] = v
			} else {
				delete(w.via, key)
			}
			w.f(wl.name, key.dst, true)
			return
		}
	}
	if unreported {
		if name, ok := w.k.nameOf(index); ok {
			w.f(name, key.dst, true)
		}
	}
}

// dropGone reports the routes through devices that went as gone.
func (w *routeWatch) dropGone() {
	w.gmu.Lock()
	gone := w.goneIdx
	w.goneIdx = nil
	w.gmu.Unlock()
	for _, i := range gone {
		if wl := w.links[i]; wl != nil {
			for key := range wl.routes {
				w.remove(key, i, false)
			}
		}
	}
}

// resync compares the routes reported with the kernel's, after
// notifications were lost, and reports the differences.
func (w *routeWatch) resync() {
	type hop struct {
		key   watchKey
		index int32
	}
	var now map[hop]bool
	err := w.k.dump(func(h *netlink.Handle) error {
		now = map[hop]bool{}
		for _, family := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
			err := h.RouteListFilteredIter(family, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE,
				func(r netlink.Route) bool {
					dst, ok := prefixOf(&r)
					if !ok || !unicastMain(&r) {
						return true
					}
					key := watchKey{dst: dst, tos: r.Tos, metric: r.Priority}
					for _, i := range hopsOf(nil, &r) {
						now[hop{key, i}] = true
					}
					return true
				})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return // keep what was reported; the next loss tries again
	}
	for i, wl := range w.links {
		for key := range wl.routes {
			if !now[hop{key, i}] {
				w.remove(key, i, false)
			}
		}
	}
	for h := range now {
		w.add(h.key, h.index)
	}
}
