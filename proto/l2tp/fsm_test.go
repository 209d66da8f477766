package l2tp

import (
	"strings"
	"testing"
)

// The transition tables are data: check they are well formed.
func TestFSMTables(t *testing.T) {
	seen := map[[2]uint8]bool{}
	for _, tr := range tunnelFSM {
		k := [2]uint8{uint8(tr.from), uint8(tr.ev)}
		if seen[k] {
			t.Errorf("duplicate tunnel transition %v/%v", tr.from, tr.ev)
		}
		seen[k] = true
		if strings.Contains(tr.to.String(), "(") || strings.Contains(tr.ev.String(), "(") {
			t.Errorf("unnamed state or event in %+v", tr)
		}
	}
	seen = map[[2]uint8]bool{}
	for _, tr := range sessionFSM {
		k := [2]uint8{uint8(tr.from), uint8(tr.ev)}
		if seen[k] {
			t.Errorf("duplicate session transition %v/%v", tr.from, tr.ev)
		}
		seen[k] = true
		if strings.Contains(tr.to.String(), "(") || strings.Contains(tr.ev.String(), "(") {
			t.Errorf("unnamed state or event in %+v", tr)
		}
	}
	// A few §7.2/§7.3 facts.
	if to, ok := tunNext(TunIdle, TevRxSCCRQ); !ok || to != TunProcSCCRQ {
		t.Error("idle + SCCRQ")
	}
	if _, ok := tunNext(TunEstablished, TevRxSCCCN); ok {
		t.Error("SCCCN accepted when established")
	}
	if to, ok := tunNext(TunEstablished, TevRxStopCCN); !ok || to != TunClosing {
		t.Error("StopCCN from any state")
	}
	if to, ok := snNext(SnWaitTunnel, SevTunnelUp, true); !ok || to != SnWaitOCRP {
		t.Error("outgoing call after tunnel up")
	}
	if _, ok := snNext(SnDead, SevClose, false); ok {
		t.Error("close of a dead session")
	}
	if TunEstablished.Short() != "est" || SnEstablished.String() != "established" || TevRxSCCRQ.String() != "Rx-SCCRQ" {
		t.Error("names")
	}
}
