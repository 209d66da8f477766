package l2tp

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/vpdn/vpdn/transport/memnet"
)

var (
	lnsAddr = netip.MustParseAddrPort("198.18.0.1:1701")
	lacAddr = netip.MustParseAddrPort("198.18.0.2:1701")
)

type peer struct {
	node *Node
	conn *memnet.Conn
}

func newPeer(t testing.TB, nw *memnet.Network, addr netip.AddrPort, cfg Config) *peer {
	t.Helper()
	c, err := nw.Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Conn = c
	n, err := NewNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	go c.Serve(n.HandlePacket)
	t.Cleanup(func() {
		// On a failed test, end every goroutine of the bubble.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		n.Close(ctx)
		c.Close()
	})
	return &peer{n, c}
}

func (p *peer) close(t testing.TB) {
	if err := p.node.Close(context.Background()); err != nil {
		t.Error(err)
	}
	p.conn.Close()
}

// logLines captures log messages for IOS-format checks.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) Enabled(context.Context, slog.Level) bool { return true }
func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.lines = append(l.lines, r.Message)
	l.mu.Unlock()
	return nil
}
func (l *logLines) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logLines) WithGroup(string) slog.Handler      { return l }

func (l *logLines) has(sub string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.lines {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func (l *logLines) dump(t testing.TB) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.lines {
		t.Log(s)
	}
}
