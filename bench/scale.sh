#!/usr/bin/env bash
# Scale (issue 6): vpdn bench T x S against vpdn serve in shared-interface
# mode, in two namespaces of 198.18.0.0/15; reports the generator's JSON and
# the LNS's RSS per established session. Root; bounded (timeouts); removes
# its namespaces and processes.
#
#   sudo bash bench/scale.sh [TUNNELS] [SESSIONS_PER_TUNNEL]     (default 100 1000)
#
# PROFILE=FILE writes the LNS's Go CPU profile there (go tool pprof FILE),
# and FILE.bench the generator's; FILE.heap is the LNS's heap during the hold.
# INFLIGHT sets the generator's --max-in-flight (default 1024); HOLD the
# hold time (default 30s).
T=${1:-100} S=${2:-1000}
A=vpdnscale-a B=vpdnscale-b
. "$(dirname "$0")/lib.sh"
setup_pair
start_lns ${PROFILE:+--cpuprofile $W/cpu.pprof --pprof 127.0.0.1:6060}
rss0=$(lns_rss_kb)
ip netns exec $A timeout 600 $W/bench bench --server 198.18.0.2 --tunnels $T --sessions $S --user u --password p \
	--hold ${HOLD:-30s} --max-in-flight ${INFLIGHT:-1024} ${PROFILE:+--cpuprofile $W/bench.pprof} --json 2>$W/bench.err > $W/bench.json &
BP=$!
# Wait until the generator has set every session up (its progress line
# says established + failed = T x S) or stops making progress, then take the
# RSS while every session is held. (Polling the LNS instead would cost it a
# snapshot of 100,000 sessions per second.)
want=$((T*S)) last=-1 still=0
for _ in $(seq 240); do
	sleep 1
	read -r est fail < <(tail -1 $W/bench.err | awk '/established/{print $3, $5}')
	done_=$(( ${est:-0} + ${fail:-0} ))
	[ "$done_" -ge "$want" ] && break
	if [ "$done_" -eq "$last" ] && [ "$done_" -gt 0 ]; then still=$((still+1)); [ $still -ge 5 ] && break; else still=0; fi
	last=$done_
done
sleep 1
rss1=$(lns_rss_kb)
n=$(lns_metric 'vpdn_ppp_sessions{role="virtual-access",up="true"}')
gor=$(lns_metric go_goroutines)
[ -n "${PROFILE:-}" ] && ip netns exec $B curl -s -o "$PROFILE.heap" http://127.0.0.1:6060/debug/pprof/heap
wait $BP
cat $W/bench.json; echo
echo "LNS RSS before ${rss0} kB, during hold ${rss1} kB; sessions on the LNS: $n; goroutines: $gor"
python3 -c "print('RSS per session: %.1f KiB' % ((${rss1}-${rss0})/max(1,${n:-0})))"
tail -3 $W/bench.err
if [ -n "${PROFILE:-}" ]; then stop_lns; cp $W/cpu.pprof "$PROFILE" && cp $W/bench.pprof "$PROFILE.bench" && echo "CPU profiles: $PROFILE (LNS) $PROFILE.bench (generator), heap: $PROFILE.heap"; fi
