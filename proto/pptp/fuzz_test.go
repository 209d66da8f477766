package pptp

import (
	"testing"
	"testing/synctest"

	"github.com/vpdn/vpdn/wire/pptp"
)

// FuzzConnInput feeds arbitrary octets into a control connection, after a
// valid SCCRQ, on a PAC and a PNS: no panic, no leaked goroutine (the
// bubble ends only when every goroutine has), and at most one message
// buffered (the reader's array is fixed).
func FuzzConnInput(f *testing.F) {
	seed := func(ms ...pptp.Message) []byte {
		var b []byte
		for _, m := range ms {
			b, _ = pptp.Append(b, m)
		}
		return b
	}
	f.Add(seed(&pptp.OCRQ{CallID: 1, MaxBPS: 1}, &pptp.CCRQ{CallID: 1}), true)
	f.Add(seed(&pptp.ICRQ{CallID: 2}, &pptp.ICCN{PeerCallID: 2}, &pptp.CDN{CallID: 2}), false)
	f.Add(seed(&pptp.EchoRequest{ID: 1}, &pptp.StopCCRQ{Reason: 1}), true)
	f.Add([]byte{0, 16, 0, 1, 0x1a, 0x2b, 0x3c, 0x4d, 0, 5}, false)
	f.Fuzz(func(t *testing.T, in []byte, pac bool) {
		synctest.Test(t, func(t *testing.T) {
			role := RolePNS
			if pac {
				role = RolePAC
			}
			n := newNode(t, Config{Role: role, OnCall: func(c *Call) {
				if c.Stats().PeerID%2 == 0 {
					c.Accept()
				} else {
					c.Reject(0, 0)
				}
			}})
			a, b := streamPair()
			c, err := n.Serve(b, pacAddr, pnsAddr)
			if err != nil {
				t.Fatal(err)
			}
			r := newRaw(t, a)
			r.send(sccrq())
			r.write(in)
			a.w.Close()
			<-c.Done()
			if s := n.Stats(); s.Conns != 0 || s.Calls != 0 {
				t.Fatalf("left behind: %+v", s)
			}
		})
	})
}
