package access_test

import (
	"context"
	"regexp"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/access"
	"github.com/vpdn/vpdn/transport/memnet"
)

// timeoutAAA is localAAA with a Session-Timeout in the authorization, as
// a RADIUS Access-Accept carries it.
type timeoutAAA struct {
	localAAA
	secs uint32
	reqs chan *aaa.Request
}

func (a timeoutAAA) Authenticate(ctx context.Context, r *aaa.Request) (*aaa.Result, error) {
	a.reqs <- r
	res, err := a.localAAA.Authenticate(ctx, r)
	if res != nil {
		res.Authz.SessionTimeout = a.secs
	}
	return res, err
}

// TestSessionTimeout: the authorization's Session-Timeout (RFC 2865 §5.27)
// ends the session after that many seconds with its typed cause; the AAA
// request carried the session's unique id, NAS port and peer.
func TestSessionTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(1)
		auth := timeoutAAA{localAAA{"alice", "wonderland"}, 30, make(chan *aaa.Request, 4)}
		server := newNodeAuth(t, nw, "198.18.0.1", newLeases(), auth)
		client := newNode(t, nw, "198.18.0.2", nil)
		ss, _, _, _ := call(t, server, client, clientProfile)
		<-server.ups
		<-client.ups
		req := <-auth.reqs
		if !regexp.MustCompile(`^[0-9A-F]{24}$`).MatchString(ss.ID()) || req.SessionID != ss.ID() {
			t.Errorf("session id %q, request's %q", ss.ID(), req.SessionID)
		}
		if req.NASPort != "Vi1" || req.PortNumber != 1 || req.PeerAddr.String() != "198.18.0.2" {
			t.Errorf("request context %+v", req)
		}
		time.Sleep(29 * time.Second)
		synctest.Wait()
		select {
		case c := <-server.ends:
			t.Fatalf("ended early: %v", c)
		default:
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if c := <-server.ends; c != access.CauseSessionTimeout {
			t.Errorf("cause %v, want session timeout", c)
		}
	})
}
