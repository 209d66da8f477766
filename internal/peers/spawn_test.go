package peers

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/nstest"
)

// TestDaemonsSurviveNSDo starts processes the way the peers are started
// and then calls NS.Do, whose thread ends afterwards: none may be killed
// (the lab starts commands with Pdeathsig, which Linux ties to the
// forking thread). Started from the test goroutine instead, most of them
// die.
func TestDaemonsSurviveNSDo(t *testing.T) {
	lab := nstest.New(t)
	ns := lab.NS("spawn")
	var ds []*Daemon
	for i := range 10 {
		d := &Daemon{Name: fmt.Sprint("sleep", i)}
		start(t, lab, d, ns.Command("sleep", "60"), filepath.Join(t.TempDir(), "out"))
		ds = append(ds, d)
		if err := ns.Do(func() error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	// The threads end just after Do returns: watch for a while.
	var dead *Daemon
	poll(300*time.Millisecond, func() bool {
		for _, d := range ds {
			if !d.Running() {
				dead = d
				return true
			}
		}
		return false
	})
	if dead != nil {
		t.Errorf("%s (PID %d) was killed when an NS.Do thread ended", dead.Name, dead.PID)
	}
}
