package loadgen

import (
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/transport"
)

// UDP returns a Socket that opens a UDP socket on local (port 0: a new
// ephemeral port for each LAC) and reads it in batches on one goroutine.
func UDP(local netip.AddrPort, log *slog.Logger) Socket {
	return func(deliver func(b []byte, from netip.AddrPort)) (Conn, func() error, error) {
		u, err := transport.ListenUDP(local)
		if err != nil {
			return nil, nil, err
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := u.Serve(deliver); err != nil && log != nil {
				log.Error("loadgen: socket", "local", u.LocalAddr().String(), "err", err)
			}
		}()
		return u, func() error { err := u.Close(); <-done; return err }, nil
	}
}

// ParseAuth maps the --auth words to a method: "" (any), pap, chap,
// ms-chap-v2.
func ParseAuth(s string) (aaa.Method, error) {
	switch s {
	case "":
		return 0, nil
	case "pap":
		return aaa.PAP, nil
	case "chap":
		return aaa.CHAP, nil
	case "ms-chap-v2":
		return aaa.MSCHAPv2, nil
	}
	return 0, fmt.Errorf("loadgen: authentication %q: expected pap, chap or ms-chap-v2", s)
}
