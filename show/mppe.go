package show

import (
	"fmt"
	"strings"
)

// MPPE is what `show ppp mppe virtual-access N` prints of one interface:
// the MPPE (RFC 3078) that CCP negotiated on it and the counters of both
// directions. It holds no key material, and has no field that could: the
// start and session keys (RFC 3079) stay with the cipher in the data
// plane, out of every snapshot, text and JSON.
type MPPE struct {
	// Interface is the IOS short name ("Vi3"), LongName the full one
	// ("Virtual-Access3").
	Interface string `json:"interface"`
	LongName  string `json:"long_name"`
	// Engine is who encrypts: "software" for vpdn (IOS prints its ISA
	// card as "Hardware (ISA5/1, flow_id=13)").
	Engine string `json:"engine"`
	// Bits is the key strength, 40, 56 or 128 (RFC 3078 §2.1).
	Bits int `json:"bits"`
	// Stateless is the H bit: a key change on every packet (RFC 3078
	// §2.1, §7.1); false is stateful mode.
	Stateless bool `json:"stateless"`
	// PacketsEncrypted and PacketsDecrypted count the packets the cipher
	// sent and accepted.
	PacketsEncrypted uint64 `json:"packets_encrypted"`
	PacketsDecrypted uint64 `json:"packets_decrypted"`
	// ResetsSent and ResetsReceived count CCP Reset-Requests (RFC 1962
	// §2.3, RFC 3078 §8): sent when we lost packets on a stateful link,
	// received when the peer did.
	ResetsSent     uint64 `json:"sent_ccp_resets"`
	ResetsReceived uint64 `json:"received_ccp_resets"`
	// NextTxCoherency is the coherency count (RFC 3078 §3) the next packet
	// sent will carry, NextRxCoherency the one expected next.
	NextTxCoherency uint16 `json:"next_tx_coherency"`
	NextRxCoherency uint16 `json:"next_rx_coherency"`
	// TxKeyChanges and RxKeyChanges count session key changes (RFC 3078
	// §7).
	TxKeyChanges uint64 `json:"tx_key_changes"`
	RxKeyChanges uint64 `json:"rx_key_changes"`
	// RxDropped counts every received packet the cipher dropped, for any
	// reason; RxOutOfOrder those among them that came late (replayed,
	// duplicated or overtaken); RxMissed the packets the coherency count
	// skipped (lost on the way).
	RxDropped    uint64 `json:"rx_dropped"`
	RxOutOfOrder uint64 `json:"rx_out_of_order"`
	RxMissed     uint64 `json:"rx_missed"`
}

// WriteMPPE renders `show ppp mppe virtual-access N` for each interface
// given, in document 001's words. The text there lost its line breaks and
// runs of spaces; the lines are rebuilt as IOS pairs the counters, the
// transmit side on the left and the receive side on the right, with the
// labels padded so that the "=" signs line up ("rx out of order pkt= 0"
// has no space before its "=" in 001: its label fills the column).
func WriteMPPE(b *strings.Builder, ms []MPPE) {
	for _, m := range ms {
		mode := "Stateful"
		if m.Stateless {
			mode = "Stateless"
		}
		fmt.Fprintf(b, "Interface %s (current connection)\n", m.LongName)
		fmt.Fprintf(b, "  %s encryption, %d bit encryption, %s mode\n", m.Engine, m.Bits, mode)
		pair := func(l string, lv uint64, r string, rv uint64) {
			fmt.Fprintf(b, "  %-18s= %-12d%-19s= %d\n", l, lv, r, rv)
		}
		pair("packets encrypted", m.PacketsEncrypted, "packets decrypted", m.PacketsDecrypted)
		pair("sent CCP resets", m.ResetsSent, "receive CCP resets", m.ResetsReceived)
		pair("next tx coherency", uint64(m.NextTxCoherency), "next rx coherency", uint64(m.NextRxCoherency))
		pair("tx key changes", m.TxKeyChanges, "rx key changes", m.RxKeyChanges)
		pair("rx pkt dropped", m.RxDropped, "rx out of order pkt", m.RxOutOfOrder)
		fmt.Fprintf(b, "  %-18s= %d\n", "rx missed packets", m.RxMissed)
	}
}
