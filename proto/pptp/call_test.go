package pptp

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/wire/pptp"
)

// §3.2.3: the PNS asks for an outgoing call, the PAC answers; both sides
// see each other's IDs and window; then each side clears one call.
func TestOutgoingCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var pe, ne events
		pcfg := Config{Role: RolePAC, RecvWindow: 32, ProcessingDelay: 3}
		pe.hook(&pcfg)
		var offered *Call
		pcfg.OnCall = func(c *Call) { offered = c; c.Accept() }
		ncfg := Config{Role: RolePNS, RecvWindow: 16, ProcessingDelay: 1}
		ne.hook(&ncfg)
		pac, pns := newNode(t, pcfg), newNode(t, ncfg)
		pc, nc := pairUp(t, pac, pns)
		call, err := nc.Call(context.Background(), CallParams{PhoneNumber: "5551234", MaxBPS: 64000})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		ns, ps := call.Stats(), offered.Stats()
		if ns.State != CallEstablished || ps.State != CallEstablished {
			t.Fatalf("states %v %v", ns.State, ps.State)
		}
		if ns.PeerID != ps.LocalID || ps.PeerID != ns.LocalID || ns.LocalID == 0 || ps.LocalID == 0 {
			t.Errorf("IDs PNS %d/%d PAC %d/%d", ns.LocalID, ns.PeerID, ps.LocalID, ps.PeerID)
		}
		if ns.PeerRecvWindow != 32 || ns.PeerProcessingDelay != 3 || ps.PeerRecvWindow != 16 || ps.PeerProcessingDelay != 1 {
			t.Errorf("windows PNS %+v PAC %+v", ns, ps)
		}
		if ps.Params.PhoneNumber != "5551234" || ns.ConnectSpeed != 64000 || !ns.Outgoing || !ns.Originated || ps.Originated {
			t.Errorf("params %+v / %+v", ns, ps)
		}
		if ups, _ := pe.counts(); ups != 1 {
			t.Errorf("PAC OnCallUp %d", ups)
		}
		if ups, _ := ne.counts(); ups != 0 {
			t.Errorf("PNS OnCallUp for its own call: %d", ups)
		}
		if len(pc.Calls()) != 1 || len(nc.Calls()) != 1 {
			t.Error("Calls()")
		}
		// WEN up on the PNS, SLI up on the PAC.
		newRawSend(t, pc, &pptp.WEN{PeerCallID: ns.LocalID, CRCErrors: 3})
		newRawSend(t, nc, &pptp.SLI{PeerCallID: ps.LocalID, SendACCM: 0xffffffff, RecvACCM: 0xa0000})
		synctest.Wait()
		if len(ne.wens) != 1 || ne.wens[0].CRCErrors != 3 || len(pe.slis) != 1 || offered.Stats().RecvACCM != 0xa0000 {
			t.Errorf("WEN %+v SLI %+v", ne.wens, pe.slis)
		}

		// PNS clears: CCRQ, the PAC answers CDN result 4.
		call.Close(0)
		<-call.Done()
		<-offered.Done()
		if ce := closeErr(t, call.Err()); ce.Msg != pptp.MsgCCRQ || ce.Remote {
			t.Errorf("PNS call err %v", ce)
		}
		synctest.Wait()
		if ce := closeErr(t, pe.lastDown()); ce.Msg != pptp.MsgCCRQ || !ce.Remote {
			t.Errorf("PAC down %v", ce)
		}
		if _, downs := ne.counts(); downs != 1 {
			t.Errorf("PNS OnCallDown %d", downs)
		}

		// PAC clears: CDN with its result.
		call, err = nc.Call(context.Background(), CallParams{})
		if err != nil {
			t.Fatal(err)
		}
		offered.Close(pptp.CDNLostCarrier)
		<-call.Done()
		if ce := closeErr(t, call.Err()); ce.Msg != pptp.MsgCDN || !ce.Remote || ce.Result != uint8(pptp.CDNLostCarrier) {
			t.Errorf("PNS call err %v", ce)
		}
		if st := pns.Stats(); st.Calls != 0 || st.UnknownCall != 0 || st.OutOfState != 0 {
			t.Errorf("PNS stats %+v", st)
		}
	})
}

// newRawSend makes c's goroutine send m to its peer, as if c's node had
// sent it, for the messages this package has no API for.
func newRawSend(t *testing.T, c *Conn, m pptp.Message) {
	t.Helper()
	c.post(func() {
		if err := c.send(m); err != nil {
			t.Error(err)
		}
	})
}

// §3.2.2: the PAC reports an incoming call: ICRQ, ICRP, ICCN.
func TestIncomingCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var ne events
		ncfg := Config{Role: RolePNS, RecvWindow: 10}
		ne.hook(&ncfg)
		answer := make(chan *Call, 1)
		ncfg.OnCall = func(c *Call) { answer <- c } // answered later
		pac, pns := newNode(t, Config{Role: RolePAC, RecvWindow: 20}), newNode(t, ncfg)
		pc, _ := pairUp(t, pac, pns)
		res := make(chan *Call, 1)
		go func() {
			c, err := pc.Call(context.Background(), CallParams{DialingNumber: "0123", DialedNumber: "999", ConnectSpeed: 33600})
			if err != nil {
				t.Error(err)
			}
			res <- c
		}()
		offered := <-answer
		synctest.Wait()
		if st := offered.Stats(); st.State != CallWaitAnswer || st.Params.DialingNumber != "0123" || st.Outgoing {
			t.Fatalf("offered %+v", st)
		}
		offered.Accept()
		call := <-res
		synctest.Wait()
		ps, ns := call.Stats(), offered.Stats()
		if ps.State != CallEstablished || ns.State != CallEstablished || ps.PeerRecvWindow != 10 || ns.PeerRecvWindow != 20 ||
			ns.ConnectSpeed != 33600 || ps.PeerID != ns.LocalID || ns.PeerID != ps.LocalID {
			t.Errorf("PAC %+v PNS %+v", ps, ns)
		}
		if ups, _ := ne.counts(); ups != 1 {
			t.Errorf("PNS OnCallUp %d", ups)
		}
		// The PNS clears with CCRQ, the PAC answers CDN.
		offered.Close(0)
		<-call.Done()
		<-offered.Done()
		if ce := closeErr(t, call.Err()); ce.Msg != pptp.MsgCCRQ || !ce.Remote {
			t.Errorf("PAC err %v", ce)
		}
	})
}

// Every OCRP and ICRP refusal reaches Conn.Call as a *CloseError.
func TestCallReject(t *testing.T) {
	cases := []struct {
		pnsCalls bool
		result   uint8
		code     pptp.ErrorCode
	}{
		{true, uint8(pptp.OCRPGeneralError), pptp.ErrorNoResource},
		{true, uint8(pptp.OCRPNoCarrier), 0},
		{true, uint8(pptp.OCRPBusy), 0},
		{true, uint8(pptp.OCRPNoDialTone), 0},
		{true, uint8(pptp.OCRPTimeout), 0},
		{true, uint8(pptp.OCRPDoNotAccept), 0},
		{true, 0, 0}, // default: do not accept
		{false, uint8(pptp.ICRPGeneralError), pptp.ErrorBadValue},
		{false, uint8(pptp.ICRPDoNotAccept), 0},
	}
	for _, tc := range cases {
		synctest.Test(t, func(t *testing.T) {
			var pe, ne events
			reject := func(c *Call) { c.Reject(tc.result, tc.code) }
			pcfg, ncfg := Config{Role: RolePAC, OnCall: reject}, Config{Role: RolePNS, OnCall: reject}
			pe.hook(&pcfg)
			ne.hook(&ncfg)
			pac, pns := newNode(t, pcfg), newNode(t, ncfg)
			pc, nc := pairUp(t, pac, pns)
			caller, callee, msg := nc, &pe, pptp.MsgOCRP
			if !tc.pnsCalls {
				caller, callee, msg = pc, &ne, pptp.MsgICRP
			}
			_, err := caller.Call(context.Background(), CallParams{})
			ce := closeErr(t, err)
			want := tc.result
			if want == 0 {
				want = uint8(pptp.OCRPDoNotAccept)
			}
			if ce.Msg != msg || !ce.Remote || ce.Result != want || ce.Code != tc.code {
				t.Errorf("%+v: err %v", tc, ce)
			}
			synctest.Wait()
			if ce := closeErr(t, callee.lastDown()); ce.Msg != msg || ce.Remote {
				t.Errorf("callee down %v", ce)
			}
			if pac.Stats().Calls+pns.Stats().Calls != 0 {
				t.Error("calls left")
			}
		})
	}
}

func TestCallTimeouts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// No OCRP: the PNS gives up after CallTimeout and sends CCRQ.
		pns := newNode(t, Config{Role: RolePNS, CallTimeout: 15 * time.Second})
		a, b := streamPair()
		r := newRaw(t, b)
		dialed := make(chan *Conn, 1)
		go func() { c, _ := pns.Dial(context.Background(), a, pnsAddr, pacAddr); dialed <- c }()
		r.next()
		r.send(&pptp.SCCRP{ProtocolVersion: pptp.ProtocolVersion, Result: pptp.SCCRPSuccess})
		nc := <-dialed
		start := time.Now()
		_, err := nc.Call(context.Background(), CallParams{})
		if !errors.Is(err, ErrSetupTimeout) || time.Since(start) != 15*time.Second {
			t.Fatalf("err %v after %v", err, time.Since(start))
		}
		ocrq, ok := r.next().(*pptp.OCRQ)
		if !ok {
			t.Fatal("no OCRQ")
		}
		if m, ok := r.next().(*pptp.CCRQ); !ok || m.CallID != ocrq.CallID {
			t.Errorf("no CCRQ after the timeout: %+v", m)
		}
		// An owner that never answers: OCRP result 6 (timeout).
		pac := newNode(t, Config{Role: RolePAC, CallTimeout: 15 * time.Second, OnCall: func(*Call) {}})
		a, b = streamPair()
		pac.Serve(b, pacAddr, pnsAddr)
		r = newRaw(t, a)
		r.send(sccrq())
		r.next()
		r.send(&pptp.OCRQ{CallID: 9, MaxBPS: 1})
		r.none()
		time.Sleep(15 * time.Second)
		if m, ok := r.next().(*pptp.OCRP); !ok || m.Result != pptp.OCRPTimeout || m.PeerCallID != 9 {
			t.Errorf("got %+v", m)
		}
		if pns.Stats().CallTimeouts != 1 || pac.Stats().CallTimeouts != 1 {
			t.Errorf("stats %+v %+v", pns.Stats(), pac.Stats())
		}
	})
}

// A StopCCRQ with calls up takes them all down, on both sides.
func TestStopWithCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var pe, ne events
		pcfg, ncfg := Config{Role: RolePAC}, Config{Role: RolePNS}
		pe.hook(&pcfg)
		ne.hook(&ncfg)
		pac, pns := newNode(t, pcfg), newNode(t, ncfg)
		pc, nc := pairUp(t, pac, pns)
		var calls []*Call
		for range 5 {
			c, err := nc.Call(context.Background(), CallParams{})
			if err != nil {
				t.Fatal(err)
			}
			calls = append(calls, c)
		}
		pc.Close(pptp.StopNone)
		<-nc.Done()
		<-pc.Done()
		for _, c := range calls {
			if ce := closeErr(t, c.Err()); ce.Msg != pptp.MsgStopCCRQ || !ce.Remote {
				t.Errorf("call err %v", ce)
			}
		}
		if _, d := pe.counts(); d != 5 {
			t.Errorf("PAC downs %d", d)
		}
		if _, d := ne.counts(); d != 5 {
			t.Errorf("PNS downs %d", d)
		}
		if pac.Stats().Calls+pns.Stats().Calls != 0 {
			t.Error("call IDs left")
		}
		if _, err := nc.Call(context.Background(), CallParams{}); err == nil {
			t.Error("call on a closed connection")
		}
	})
}

func TestCallLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pac := newNode(t, Config{Role: RolePAC, MaxCallsPerConn: 2})
		pns := newNode(t, Config{Role: RolePNS})
		_, nc := pairUp(t, pac, pns)
		for range 2 {
			if _, err := nc.Call(context.Background(), CallParams{}); err != nil {
				t.Fatal(err)
			}
		}
		_, err := nc.Call(context.Background(), CallParams{})
		if ce := closeErr(t, err); ce.Msg != pptp.MsgOCRP || ce.Result != uint8(pptp.OCRPGeneralError) || ce.Code != pptp.ErrorNoResource {
			t.Errorf("err %v", ce)
		}
		if pac.Stats().CallLimit != 1 {
			t.Errorf("stats %+v", pac.Stats())
		}
		// A phone number the wire cannot carry is the caller's error.
		long := make([]byte, 65)
		for i := range long {
			long[i] = '1'
		}
		if _, err := nc.Call(context.Background(), CallParams{PhoneNumber: string(long)}); err == nil || !errors.Is(err, pptp.ErrField) {
			t.Errorf("long number: %v", err)
		}
	})
}

// 1,000 calls on one connection: IDs unique, all up, all down on close.
func TestManyCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var pe events
		pcfg := Config{Role: RolePAC, Seed: 1}
		pe.hook(&pcfg)
		pac, pns := newNode(t, pcfg), newNode(t, Config{Role: RolePNS, Seed: 2})
		pc, nc := pairUp(t, pac, pns)
		const n = 1000
		ids := map[uint16]bool{}
		for range n {
			c, err := nc.Call(context.Background(), CallParams{})
			if err != nil {
				t.Fatal(err)
			}
			id := c.Stats().LocalID
			if id == 0 || ids[id] {
				t.Fatalf("call ID %d repeated or zero", id)
			}
			ids[id] = true
		}
		if len(pc.Calls()) != n || pac.Stats().Calls != n {
			t.Fatalf("PAC has %d calls", len(pc.Calls()))
		}
		nc.Close(pptp.StopNone)
		<-pc.Done()
		if _, d := pe.counts(); d != n {
			t.Errorf("downs %d", d)
		}
	})
}
