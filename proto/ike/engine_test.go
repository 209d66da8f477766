package ike

import (
	"testing"
	"testing/synctest"
	"time"
)

func TestMainModeQuickMode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNetwork(1, 0, 0)
		a, b := pair(t, w, nil)
		if err := a.n.Initiate(addrB, p2For()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		checkChildren(t, a, b)
		for _, s := range []string{"IKE_I_MM1", "IKE_I_MM6", "IKE_P1_COMPLETE", "IKE_QM_I_QM1", "IKE_QM_PHASE2_COMPLETE"} {
			if !a.log.has(s) {
				t.Errorf("a's log lacks %s", s)
			}
		}
		if st := a.n.Phase1(); len(st) != 1 || st[0].State != "QM_IDLE" {
			t.Errorf("show: %+v", st)
		}
	})
}
