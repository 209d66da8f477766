#!/usr/bin/env bash
# Churn (issue 6): CYCLES session set-ups and teardowns against one vpdn
# serve (shared-interface mode), as ROUNDS runs of vpdn bench with T tunnels
# x S sessions and no hold: every round opens T tunnels, sets S sessions up
# in each (L2TP, LCP, CHAP, IPCP), tears them down and closes the tunnels.
# After each round it records the LNS's RSS, goroutines, heap and the
# sessions it still holds (which must be 0), so a leak shows as growth.
# Root; namespaces of 198.18.0.0/15 only; bounded (per-round timeout).
#
#   sudo bash bench/churn.sh [CYCLES] [TUNNELS] [SESSIONS_PER_TUNNEL]   (default 1000000 50 400)
CYCLES=${1:-1000000} T=${2:-50} S=${3:-400}
A=vpdnchurn-a B=vpdnchurn-b
. "$(dirname "$0")/lib.sh"
per=$((T*S)) rounds=$(( (CYCLES + T*S - 1) / (T*S) ))
setup_pair
start_lns --pprof 127.0.0.1:6060
# live_heap_mb: the LNS's heap in use right after a garbage collection (the
# pprof endpoint runs one), so garbage not yet collected does not count.
live_heap_mb() {
	ip netns exec "$B" curl -sf -o /dev/null 'http://127.0.0.1:6060/debug/pprof/heap?gc=1'
	python3 -c "print('%.1f' % ($(lns_metric go_memstats_heap_inuse_bytes)/1048576))"
}
gor0=$(lns_metric go_goroutines)
printf '%6s %10s %10s %8s %10s %11s %9s %9s\n' round cycles established failed rate/s rss_kB goroutines live_heap_MB
total=0 fails=0 t0=$(date +%s)
for r in $(seq "$rounds"); do
	ip netns exec $A timeout 300 $W/bench bench --server 198.18.0.2 --tunnels $T --sessions $S --user u --password p \
		--max-in-flight ${INFLIGHT:-1024} --json 2>/dev/null > $W/r.json
	read -r est fail rate why < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["established"], d["failed"], d["setup_rate_per_s"], ",".join("%s:%d" % kv for kv in sorted(d["failures_by_reason"].items())))' $W/r.json)
	total=$((total + est)) fails=$((fails + fail))
	sleep 1 # the LNS finishes its teardown
	left=$(lns_metric 'vpdn_ppp_sessions{role="virtual-access",up="true"}')
	gor=$(lns_metric go_goroutines)
	heap=$(live_heap_mb)
	rss=$(lns_rss_kb)
	printf '%6d %10d %10d %8d %10s %11d %9s %9s  %s\n' "$r" $((r*per)) "$est" "$fail" "$rate" "$rss" "$gor" \
		"$heap" "${left:+(sessions still up: $left)}${why:+ (failures: $why)}"
	[ "$r" = 1 ] && rss1=$rss heap1=$heap
done
echo "churn: $total sessions set up and torn down in $rounds rounds, $fails failed, $(( $(date +%s) - t0 )) s"
# A closed tunnel keeps its state (and goroutine) for one full
# retransmission cycle after StopCCN (RFC 2661 §5.7, about 31 s): compare
# at rest, once that has passed.
sleep 40
printf 'at rest: goroutines %s (%s before the first round), RSS %d kB (%d after round 1), live heap %s MB (%s after round 1), sessions up: %s\n' \
	"$(lns_metric go_goroutines)" "$gor0" "$(lns_rss_kb)" "$rss1" "$(live_heap_mb)" "$heap1" \
	"$(lns_metric 'vpdn_ppp_sessions{role="virtual-access",up="true"}')"
