package show

import (
	"fmt"
	"strings"
)

// L2TPCounters is `show l2tp counters`: what the L2TP control plane holds
// and everything it dropped or refused, by reason (issue 13: a flood or a
// malformed packet must leave a trace an operator can see). IOS splits
// its L2TP counters over several `show l2tp counters ...` forms; vpdn
// prints the node's in one table.
type L2TPCounters struct {
	Tunnels          int `json:"tunnels"`
	HalfOpenTunnels  int `json:"half_open_tunnels"`
	Sessions         int `json:"sessions"`
	HalfOpenSessions int `json:"half_open_sessions"`
	// Drops are the control messages dropped or refused, by reason, in
	// a fixed order (the reasons of vpdn_l2tp_control_drops_total).
	Drops []Counter `json:"drops"`
	// Timeouts count half-open sessions and sessionless tunnels closed
	// by their timeouts.
	Timeouts []Counter `json:"timeouts"`
}

// Counter is one named count.
type Counter struct {
	Reason string `json:"reason"`
	Count  uint64 `json:"count"`
}

// WriteL2TPCounters renders `show l2tp counters`.
func WriteL2TPCounters(b *strings.Builder, c L2TPCounters) {
	b.WriteString("L2TP Control Plane Counters\n")
	fmt.Fprintf(b, "Tunnels %d (half-open %d), sessions %d (half-open %d)\n\n",
		c.Tunnels, c.HalfOpenTunnels, c.Sessions, c.HalfOpenSessions)
	table := func(title string, cs []Counter) {
		fmt.Fprintf(b, "%-32s %12s\n", title, "Count")
		for _, x := range cs {
			fmt.Fprintf(b, "  %-30s %12d\n", x.Reason, x.Count)
		}
	}
	table("Dropped or refused", c.Drops)
	b.WriteString("\n")
	table("Closed by timeout", c.Timeouts)
}
