package pptp

import (
	"encoding/binary"
	"testing"
	"testing/synctest"

	"github.com/vpdn/vpdn/wire/pptp"
)

func mustAppend(t testing.TB, m pptp.Message) []byte {
	b, err := pptp.Append(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Framing errors close the connection and are counted per reason; an
// unknown message type is skipped.
func TestBadFraming(t *testing.T) {
	echo := mustAppend(t, &pptp.EchoRequest{ID: 1})
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), echo...)) }
	cases := []struct {
		name   string
		in     []byte
		eof    bool // close our write side after in
		closes bool
		count  func(NodeStats) uint64
	}{
		{"truncated header", echo[:5], true, true, func(s NodeStats) uint64 { return s.Truncated }},
		{"truncated body", echo[:14], true, true, func(s NodeStats) uint64 { return s.Truncated }},
		{"length too big", mod(func(b []byte) []byte { binary.BigEndian.PutUint16(b, 400); return b }), false, true,
			func(s NodeStats) uint64 { return s.BadLength }},
		{"length too small", mod(func(b []byte) []byte { binary.BigEndian.PutUint16(b, 4); return b }), false, true,
			func(s NodeStats) uint64 { return s.BadLength }},
		{"length not of type", append(mod(func(b []byte) []byte { binary.BigEndian.PutUint16(b, 20); return b }), 0, 0, 0, 0), false, true,
			func(s NodeStats) uint64 { return s.BadLength }},
		{"cookie", mod(func(b []byte) []byte { b[4] ^= 1; return b }), false, true, func(s NodeStats) uint64 { return s.BadCookie }},
		{"management", mod(func(b []byte) []byte { b[3] = 2; return b }), false, true, func(s NodeStats) uint64 { return s.BadMessageType }},
		{"unknown type", mod(func(b []byte) []byte { b[9] = 99; return b }), false, false, func(s NodeStats) uint64 { return s.UnknownType }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := newNode(t, Config{Role: RolePAC})
				a, b := streamPair()
				c, _ := n.Serve(b, pacAddr, pnsAddr)
				r := newRaw(t, a)
				r.send(sccrq())
				r.next()
				r.write(tc.in)
				if tc.eof {
					a.w.Close()
				}
				synctest.Wait()
				if got := tc.count(n.Stats()); got != 1 {
					t.Errorf("counter %d, stats %+v", got, n.Stats())
				}
				if gone := r.closed(); gone != tc.closes {
					t.Errorf("closed %v, want %v (err %v)", gone, tc.closes, c.Err())
				}
				if !tc.closes {
					// Still alive and answering.
					r.send(&pptp.EchoRequest{ID: 5})
					if m, ok := r.next().(*pptp.EchoReply); !ok || m.ID != 5 {
						t.Errorf("no echo after %s: %+v", tc.name, m)
					}
				}
			})
		})
	}
}

// Messages out of state, from the wrong role and for unknown calls are
// dropped and counted; requests before establishment get §2.16 error 1.
func TestBadMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newNode(t, Config{Role: RolePAC})
		a, b := streamPair()
		c, _ := n.Serve(b, pacAddr, pnsAddr)
		r := newRaw(t, a)

		r.send(&pptp.OCRQ{CallID: 1})
		if m, ok := r.next().(*pptp.OCRP); !ok || m.Result != pptp.OCRPGeneralError || m.Error != pptp.ErrorNotConnected || m.PeerCallID != 1 {
			t.Fatalf("OCRQ before SCCRQ: %+v", m)
		}
		r.send(&pptp.StopCCRP{Result: pptp.StopOK}) // out of state
		r.send(&pptp.CDN{CallID: 3})                // before establishment
		r.none()
		if s := n.Stats(); s.OutOfState != 3 {
			t.Errorf("stats %+v", s)
		}
		r.send(sccrq())
		r.next()
		before := n.Stats()
		r.send(sccrq())                                         // second SCCRQ: out of state
		r.send(&pptp.ICRQ{CallID: 4})                           // PAC does not take ICRQ
		r.send(&pptp.WEN{PeerCallID: 4})                        // nor WEN
		r.send(&pptp.CCRQ{CallID: 77})                          // unknown call
		r.send(&pptp.SLI{PeerCallID: 77})                       // unknown call
		r.send(&pptp.EchoReply{ID: 12345, Result: pptp.EchoOK}) // unsolicited
		r.send(&pptp.SCCRP{ProtocolVersion: 0x100, Result: 1})  // out of state
		r.none()
		s := n.Stats()
		if s.OutOfState-before.OutOfState != 3 || s.WrongRole != 2 || s.UnknownCall != 2 {
			t.Errorf("stats %+v", s)
		}
		// A duplicate peer call ID is refused with error 5.
		r.send(&pptp.OCRQ{CallID: 8, MaxBPS: 1})
		if m, ok := r.next().(*pptp.OCRP); !ok || m.Result != pptp.OCRPConnected {
			t.Fatalf("OCRQ: %+v", m)
		}
		r.send(&pptp.OCRQ{CallID: 8, MaxBPS: 1})
		if m, ok := r.next().(*pptp.OCRP); !ok || m.Error != pptp.ErrorBadCallID {
			t.Fatalf("duplicate OCRQ: %+v", m)
		}
		if c.Stats().State != ConnEstablished || len(c.Calls()) != 1 {
			t.Error("connection should survive all of it")
		}
		// A StopCCRQ from the peer is answered and closes TCP.
		r.send(&pptp.StopCCRQ{Reason: pptp.StopNone})
		if m, ok := r.next().(*pptp.StopCCRP); !ok || m.Result != pptp.StopOK {
			t.Fatalf("got %+v", m)
		}
		<-c.Done()
		if !r.closed() {
			t.Error("TCP left open")
		}
	})
}

// A PNS drops what only a PNS sends, and replies for unknown calls.
func TestBadMessagesPNS(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newNode(t, Config{Role: RolePNS})
		a, b := streamPair()
		n.Serve(b, pnsAddr, pacAddr)
		r := newRaw(t, a)
		r.send(sccrq())
		r.next()
		r.send(&pptp.OCRQ{CallID: 1})     // wrong role
		r.send(&pptp.CDN{CallID: 1})      // unknown call: ignored
		r.send(&pptp.OCRP{PeerCallID: 1}) // unknown call
		r.send(&pptp.ICCN{PeerCallID: 1}) // unknown call
		r.send(&pptp.ICRQ{CallID: 5, SubAddress: "x"})
		icrp, ok := r.next().(*pptp.ICRP)
		if !ok || icrp.Result != pptp.ICRPConnect {
			t.Fatalf("ICRQ: %+v", icrp)
		}
		r.send(&pptp.OCRP{PeerCallID: icrp.CallID}) // a reply for an ICRQ call
		r.none()
		s := n.Stats()
		if s.WrongRole != 1 || s.UnknownCall != 3 || s.OutOfState != 1 {
			t.Errorf("stats %+v", s)
		}
	})
}
