package daemon

import "testing"

// Virtual-Access numbers: lowest free first, as IOS reuses them, and new
// ones after the highest in use.
func TestUnitNumbers(t *testing.T) {
	var st raState
	for want := 1; want <= 5; want++ {
		if got := st.allocUnit(); got != want {
			t.Fatalf("unit %d, want %d", got, want)
		}
	}
	st.freeUnit(4)
	st.freeUnit(2)
	st.freeUnit(3)
	for _, want := range []int{2, 3, 4, 6, 7} {
		if got := st.allocUnit(); got != want {
			t.Fatalf("unit %d, want %d", got, want)
		}
	}
}

// 100,000 units in and out stay O(log n) each: this would take minutes
// with a linear scan per allocation (the profile that found it).
func BenchmarkUnitChurn(b *testing.B) {
	var st raState
	for range 100000 {
		st.allocUnit()
	}
	b.ResetTimer()
	for i := range b.N {
		st.freeUnit(1 + i%100000)
		st.allocUnit()
	}
}
