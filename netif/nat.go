package netif

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// NATHost is a Host that can translate sources (nftables): vpdn's own
// tables, one per user, each a postrouting NAT chain.
type NATHost interface {
	// Masquerade replaces table's rules by one per rule and network of
	// its Srcs: packets from the network leaving through link Oif get
	// Oif's address as their source (`oifname OIF ip saddr NET
	// masquerade`).
	Masquerade(table string, rules ...NATRule) error
	// DelNAT removes table (absent: not an error).
	DelNAT(table string) error
}

// NATRule is one outgoing link and the sources translated on it.
type NATRule struct {
	Oif  string
	Srcs []netip.Prefix
}

// Masquerade installs an nftables table in the calling thread's network
// namespace.
func (system) Masquerade(table string, rules ...NATRule) error {
	for _, r := range rules {
		if len(r.Oif) >= unix.IFNAMSIZ {
			return fmt.Errorf("nat %s: link name %q too long", table, r.Oif)
		}
	}
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nat %s: %w", table, err)
	}
	if err := delTable(c, table); err != nil {
		return err
	}
	t := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: table})
	ch := c.AddChain(&nftables.Chain{Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
	for _, r := range rules {
		masquerade(c, t, ch, r)
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nat %s: %w", table, err)
	}
	return nil
}

// masquerade adds r's rules to chain ch.
func masquerade(c *nftables.Conn, t *nftables.Table, ch *nftables.Chain, r NATRule) {
	name := make([]byte, unix.IFNAMSIZ)
	copy(name, r.Oif)
	for _, p := range r.Srcs {
		if !p.Addr().Is4() {
			continue
		}
		p = p.Masked()
		mask := net4Mask(p.Bits())
		a := p.Addr().As4()
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: name},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a[:]},
			&expr.Masq{},
		}})
	}
}

// DelNAT removes an nftables table of ours.
func (system) DelNAT(table string) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nat %s: %w", table, err)
	}
	return delTable(c, table)
}

func delTable(c *nftables.Conn, table string) error {
	ts, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return fmt.Errorf("nat %s: listing tables: %w", table, err)
	}
	if !slices.ContainsFunc(ts, func(t *nftables.Table) bool { return t.Name == table }) {
		return nil
	}
	c.DelTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: table})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nat %s: deleting: %w", table, err)
	}
	return nil
}

func net4Mask(bits int) []byte {
	var m uint32
	if bits > 0 {
		m = ^uint32(0) << (32 - bits)
	}
	return []byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}
}

// fakeNAT is FakeHost's record of NAT tables.
type fakeNAT struct {
	mu     sync.Mutex
	tables map[string]FakeNAT
}

// FakeNAT is a table as FakeHost records it.
type FakeNAT struct {
	Rules []NATRule
}

var errNoLink = errors.New("no such link")

// Masquerade records the table; the link must exist.
func (h *FakeHost) Masquerade(table string, rules ...NATRule) error {
	var rs []NATRule
	for _, r := range rules {
		if !h.Exists(r.Oif) {
			return fmt.Errorf("nat %s: %s: %w", table, r.Oif, errNoLink)
		}
		rs = append(rs, NATRule{Oif: r.Oif, Srcs: slices.Clone(r.Srcs)})
	}
	h.nat.mu.Lock()
	defer h.nat.mu.Unlock()
	if h.nat.tables == nil {
		h.nat.tables = map[string]FakeNAT{}
	}
	h.nat.tables[table] = FakeNAT{Rules: rs}
	return nil
}

// DelNAT forgets the table.
func (h *FakeHost) DelNAT(table string) error {
	h.nat.mu.Lock()
	defer h.nat.mu.Unlock()
	delete(h.nat.tables, table)
	return nil
}

// NAT returns the recorded table, if any.
func (h *FakeHost) NAT(table string) (FakeNAT, bool) {
	h.nat.mu.Lock()
	defer h.nat.mu.Unlock()
	t, ok := h.nat.tables[table]
	return t, ok
}

// Masquerade installs the table in the process's network namespace (the
// Kernel's).
func (k *Kernel) Masquerade(table string, rules ...NATRule) error {
	return system{}.Masquerade(table, rules...)
}

// DelNAT removes the table.
func (k *Kernel) DelNAT(table string) error { return system{}.DelNAT(table) }
