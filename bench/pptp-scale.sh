#!/usr/bin/env bash
# PPTP at scale (issue 10): vpdn bench --protocol pptp brings up N PPTP
# sessions (each its own TCP control connection and call, MS-CHAPv2, MPPE
# auto) against vpdn serve in shared-interface mode, and in the same run N
# L2TP sessions (10 LACs x N/10, CHAP) as the baseline, and N PPTP sessions
# without MPPE; for each: the generator's JSON, the LNS's RSS per session
# and its goroutines during the hold, and the ratios to L2TP. Two
# namespaces of 198.18.0.0/15; root; bounded (timeouts); removes its
# namespaces and processes (by PID).
#
#   sudo bash bench/pptp-scale.sh [SESSIONS]      (default 10000)
#
# HOLD sets the hold (default 20s), INFLIGHT --max-in-flight (default 1024),
# OPENING --max-opening for PPTP (default 64).
N=${1:-10000}
A=vpdnpptp-a B=vpdnpptp-b
PPTP=1
. "$(dirname "$0")/lib.sh"
# One TCP connection per PPTP session on each side: above the usual
# default limit of open files (1,024), raised for the processes this
# script starts to 65,536, or to the hard limit when that is lower.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((N + 256)) ]; then
	echo "open files limited to $(ulimit -n): too few for $N TCP connections"; exit 1
fi
setup_pair

# measure NAME BENCH-FLAGS...: a fresh LNS, one bench run, its figures in
# $W/NAME.*.
measure() {
	local name=$1; shift
	start_lns
	local rss0 g0 rss1 g1 n
	rss0=$(lns_rss_kb); g0=$(lns_metric go_goroutines)
	ip netns exec $A timeout 600 $W/bench bench --server 198.18.0.2 --user u --password p \
		--hold "${HOLD:-20s}" --max-in-flight "${INFLIGHT:-1024}" --json "$@" 2>$W/$name.err >$W/$name.json &
	local bp=$! want=$N last=-1 still=0 est fail done_
	# Until every session is up or failed (the progress line), or no
	# progress for 5 s; then the RSS, with every session held.
	for _ in $(seq 240); do
		sleep 1
		read -r est fail < <(tail -1 $W/$name.err | awk '/established/{print $3, $5}')
		done_=$(( ${est:-0} + ${fail:-0} ))
		[ "$done_" -ge "$want" ] && break
		if [ "$done_" -eq "$last" ] && [ "$done_" -gt 0 ]; then still=$((still+1)); [ $still -ge 5 ] && break; else still=0; fi
		last=$done_
	done
	sleep 2
	rss1=$(lns_rss_kb); g1=$(lns_metric go_goroutines)
	n=$(lns_metric 'vpdn_ppp_sessions{role="virtual-access",up="true"}')
	wait $bp
	echo "$rss0 $rss1 $g0 $g1 ${n:-0}" > $W/$name.lns
	stop_lns
	echo "== $name: $(cat $W/$name.json)"
	echo "   LNS RSS $rss0 -> $rss1 kB, goroutines $g0 -> $g1, sessions on the LNS ${n:-0}"
}

measure l2tp --tunnels 10 --sessions $((N/10))
measure pptp --protocol pptp --sessions "$N" --max-opening "${OPENING:-64}"
measure pptp-nomppe --protocol pptp --sessions "$N" --max-opening "${OPENING:-64}" --mppe none

python3 - "$W" <<'PY'
import json, sys
w = sys.argv[1]
rows = {}
for name in ("l2tp", "pptp", "pptp-nomppe"):
    j = json.load(open(f"{w}/{name}.json"))
    rss0, rss1, g0, g1, n = map(float, open(f"{w}/{name}.lns").read().split())
    rows[name] = dict(j=j, kib=(rss1 - rss0) / max(1, n), gor=(g1 - g0) / max(1, n), n=n, g1=g1)
print("\n| run | established | set-up rate | p50 / p99 | LNS RSS per session | LNS goroutines per session |")
print("|---|---|---|---|---|---|")
for name, r in rows.items():
    j = r["j"]
    print(f"| {name} | {j['established']:,} / {j['sessions']:,} | {j['setup_rate_per_s']:,.0f} /s | "
          f"{j['p50_ms']:.0f} / {j['p99_ms']:.0f} ms | {r['kib']:.1f} KiB | {r['gor']:.2f} |")
b = rows["l2tp"]
for name in ("pptp", "pptp-nomppe"):
    r = rows[name]
    print(f"{name} / l2tp: set-up rate x{r['j']['setup_rate_per_s'] / max(1e-9, b['j']['setup_rate_per_s']):.2f}, "
          f"p50 x{r['j']['p50_ms'] / max(1e-9, b['j']['p50_ms']):.2f}, RSS per session x{r['kib'] / max(1e-9, b['kib']):.2f}")
PY
