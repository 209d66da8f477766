package config

import (
	"strings"
	"testing"
)

// TestPoolStore: vpdn pool-store, good and bad, and its round trip
// through show running-config with the DSN masked.
func TestPoolStore(t *testing.T) {
	for _, tc := range []struct {
		text, dsn, owner, err string
		typ                   int
	}{
		{text: `vpdn pool-store postgres "host=198.18.0.9 dbname=vpdn user=vpdn"`, dsn: "host=198.18.0.9 dbname=vpdn user=vpdn"},
		{text: "vpdn pool-store postgres 0 postgres://vpdn:pw@198.18.0.9/vpdn\nvpdn pool-store owner LNS-1", dsn: "postgres://vpdn:pw@198.18.0.9/vpdn", owner: "LNS-1"},
		{text: "vpdn pool-store postgres 7 0822455D0A16", dsn: "0822455D0A16", typ: 7},
		{text: "vpdn pool-store owner LNS-2", owner: "LNS-2"},
		{text: "vpdn pool-store postgres 0 <removed>", err: "mask"},
		{text: `vpdn pool-store postgres ""`, err: "connection string"},
		{text: "vpdn pool-store postgres 7 zz", err: "type 7"},
		{text: "vpdn pool-store postgres", err: ""},
		{text: "vpdn pool-store owner", err: ""},
		{text: "vpdn pool-store mysql x", err: ""},
	} {
		res, err := Parse("t.cfg", "hostname LNS\n"+tc.text+"\n")
		if tc.dsn == "" && tc.owner == "" {
			if err == nil {
				t.Errorf("%q: accepted", tc.text)
			} else if tc.err != "" && !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: %v, want %q", tc.text, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.text, err)
			continue
		}
		ps := res.Config.VPDN.PoolStore
		if ps == nil || ps.DSN.Value != tc.dsn || ps.DSN.Type != tc.typ || ps.Owner != tc.owner {
			t.Errorf("%q: %+v", tc.text, ps)
			continue
		}
		// Round trip: the printed configuration parses to the same.
		again, err := Parse("t.cfg", res.Config.String())
		if a := again.Config.VPDN.PoolStore; err != nil || a.DSN != ps.DSN || a.Owner != ps.Owner {
			t.Errorf("%q: round trip: %v %+v", tc.text, err, again.Config.VPDN.PoolStore)
		}
		shown := res.Config.ForShow(false).String()
		if tc.typ == 0 && tc.dsn != "" && (strings.Contains(shown, tc.dsn) || !strings.Contains(shown, "vpdn pool-store postgres 0 "+MaskedSecret)) {
			t.Errorf("%q: show running-config:\n%s", tc.text, shown)
		}
	}
}
