package pool_test

import (
	"errors"
	"fmt"
	"net/netip"
	"os"

	"github.com/vpdn/vpdn/pool"
)

// The daemon fills a Group from config's typed model of
//
//	ip local pool vpn 198.19.0.1 198.19.0.2
//	ip local pool vpn 198.19.1.1
func Example() {
	g := pool.NewGroup()
	if err := g.AddRange("vpn", netip.MustParseAddr("198.19.0.1"), netip.MustParseAddr("198.19.0.2")); err != nil {
		panic(err)
	}
	// A second range of the same pool; a single address.
	if err := g.AddRange("vpn", netip.MustParseAddr("198.19.1.1"), netip.Addr{}); err != nil {
		panic(err)
	}
	a, _ := g.Allocate("vpn", "alice")
	b, _ := g.Allocate("vpn", "bob")
	g.Allocate("vpn", "carol")
	if _, err := g.Allocate("vpn", "dave"); errors.Is(err, pool.ErrExhausted) {
		fmt.Println(err)
	}
	g.Release("vpn", a, "alice")
	g.Release("vpn", b, "bob")
	again, _ := g.Allocate("vpn", "bob") // bob's address was still free
	fmt.Println(again == b)
	pool.WriteShow(os.Stdout, g.Stats())
	// Output:
	// pool: vpn: exhausted
	// true
	//  Pool                     Begin           End              Free  In use
	//  vpn                      198.19.0.1      198.19.0.2          1       1
	//                           198.19.1.1      198.19.1.1          0       1
}
