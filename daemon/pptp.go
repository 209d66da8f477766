package daemon

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/vpdn/vpdn/control"
	"github.com/vpdn/vpdn/proto/pptp"
	wpptp "github.com/vpdn/vpdn/wire/pptp"
)

// registerPPTPClears adds `clear vpdn tunnel pptp all | id N | remote-name
// NAME`: the PPTP control connections (IOS's PPTP tunnels) end with a
// Stop-Control-Connection-Request, reason 1, general request to clear
// (RFC 2637 §2.3); their calls, and the PPP sessions on them, end with
// them. N is the LocID of show vpdn's PPTP section. NAME is the host name
// the peer sent in its SCCRQ or SCCRP, or its address: a Windows client
// sends none, and IOS then prints its address as the remote name.
func (d *Daemon) registerPPTPClears() {
	clearConns := func(match func(pptp.ConnStats) bool) (*control.Response, error) {
		rt := d.rt.Load()
		if rt == nil || rt.pptp == nil {
			return nil, errors.New("% No active PPTP tunnels")
		}
		n := 0
		for _, c := range rt.pptp.Node().Conns() {
			if match(c.Stats()) {
				c.Close(wpptp.StopNone)
				n++
			}
		}
		if n == 0 {
			return nil, errors.New("% No such PPTP tunnel")
		}
		return &control.Response{OK: true, Text: fmt.Sprintf("%d tunnel(s) cleared\n", n)}, nil
	}
	d.clears.Add(&control.Command{Words: "vpdn tunnel pptp all", Help: "clear every PPTP control connection (StopCCRQ)",
		Run: func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			return clearConns(func(pptp.ConnStats) bool { return true })
		}})
	d.clears.Add(&control.Command{Words: "vpdn tunnel pptp id", Args: 1, Help: "clear one PPTP control connection by its local ID",
		Run: func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			id, err := strconv.ParseUint(args[0], 10, 32)
			if err != nil || id == 0 {
				return nil, fmt.Errorf("%% Invalid tunnel id %q; expected a number 1-4294967295", args[0])
			}
			return clearConns(func(c pptp.ConnStats) bool { return uint32(c.ID) == uint32(id) })
		}})
	d.clears.Add(&control.Command{Words: "vpdn tunnel pptp remote-name", Args: 1, Help: "clear the PPTP control connections to the peer of that host name (or address)",
		Run: func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			return clearConns(func(c pptp.ConnStats) bool {
				return (c.PeerHostName != "" && strings.EqualFold(c.PeerHostName, args[0])) || c.Peer.String() == args[0]
			})
		}})
}
