package aaa_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/internal/type7"
	"github.com/vpdn/vpdn/pool"
)

// A user database, a domain with its own pool, the IOS method lists, and an
// address for the accepted peer: the values the daemon builds from config's
// typed model of
//
//	username alice password 7 0822455D0A16
//	aaa authentication ppp default local
//	aaa authorization network default local
//	ip local pool sales 198.19.10.1 198.19.10.254
func Example() {
	password, err := type7.Decode("0822455D0A16")
	if err != nil {
		panic(err)
	}
	local, err := aaa.NewLocal(aaa.LocalConfig{
		Users: []aaa.User{{Name: "alice", Password: password}},
		Domains: aaa.DomainOptions{Strip: true, Domains: []aaa.Domain{
			{Name: "sales", Pool: "sales"},
		}},
	})
	if err != nil {
		panic(err)
	}
	lists := []aaa.ListCommand{
		{Type: aaa.AuthenticationPPP, Name: "default", Methods: []aaa.ListMethod{{Kind: aaa.MethodLocal}}},
		{Type: aaa.AuthorizationNetwork, Name: "default", Methods: []aaa.ListMethod{{Kind: aaa.MethodLocal}}},
	}
	history := aaa.NewFailureHistory(20, nil)
	svc, err := aaa.NewService(aaa.ServiceConfig{Lists: lists, Local: local, History: history})
	if err != nil {
		panic(err)
	}
	pools := pool.NewGroup()
	if err := pools.AddRange("sales", netip.MustParseAddr("198.19.10.1"), netip.MustParseAddr("198.19.10.254")); err != nil {
		panic(err)
	}

	// What PPP does once PAP has collected the credentials.
	var auth aaa.Authenticator = svc.Bind("", "")
	r, err := auth.Authenticate(context.Background(), &aaa.Request{
		Method: aaa.PAP, Username: "alice@sales", Password: []byte("cisco"),
	})
	if err != nil {
		panic(err)
	}
	lease, err := aaa.AssignAddress(pools, &r.Authz, "")
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Accept, r.Authz.Username, r.Authz.Domain, lease.Addr)

	r, _ = auth.Authenticate(context.Background(), &aaa.Request{
		Method: aaa.PAP, Username: "alice@sales", Password: []byte("guess"),
	})
	f, _ := history.Get("alice@sales")
	fmt.Println(r.Accept, r.Reason, r.Message, f.Count)
	// Output:
	// true alice sales 198.19.10.1
	// false bad password Authentication failed 1
}
