#!/usr/bin/env bash
# Scale probe (issue 6, exploratory): vpdn bench T x S against vpdn serve in
# shared-interface mode, in two namespaces of 198.18.0.0/15; reports the
# generator's JSON and the LNS's RSS per established session. Root; bounded
# (timeouts); removes its namespaces and processes.
#
#   sudo bash bench/scale.sh [TUNNELS] [SESSIONS_PER_TUNNEL]     (default 60 1000)
#
# PROFILE=FILE writes the LNS's Go CPU profile there (go tool pprof FILE),
# and FILE.bench the generator's; FILE.heap is the LNS's heap during the hold.
# INFLIGHT sets the generator's --max-in-flight (default 256).
set -u
T=${1:-60} S=${2:-1000}
A=vpdnscale-a B=vpdnscale-b
W=$(mktemp -d)
stop_lns() {
	[ -n "${LNS:-}" ] || return 0
	kill $LNS 2>/dev/null
	for _ in $(seq 60); do kill -0 $LNS 2>/dev/null || break; sleep 0.5; done
	kill -9 $LNS 2>/dev/null; LNS=
}
cleanup() { stop_lns; ip netns del $A 2>/dev/null; ip netns del $B 2>/dev/null; rm -rf $W; }
trap cleanup EXIT
cd "$(dirname "$0")/.." && go build -o $W/vpdn ./cmd/vpdn
ip netns add $A; ip netns add $B; ip -n $A link set lo up; ip -n $B link set lo up
ip link add va netns $A type veth peer name vb netns $B
ip -n $A addr add 198.18.0.1/24 dev va; ip -n $B addr add 198.18.0.2/24 dev vb; ip -n $A link set va up; ip -n $B link set vb up
cat > $W/lns.cfg <<CFG
hostname LNS
username u password 0 p
vpdn enable
vpdn l2tp listen 198.18.0.2:1701
vpdn virtual-access shared
vpdn-group G
 accept-dialin
  protocol l2tp
  virtual-template 1
 no l2tp tunnel authentication
interface Loopback0
 ip address 198.19.0.1 255.255.255.255
interface Virtual-Template1
 ip unnumbered Loopback0
 peer default ip address pool P
 ppp authentication chap
ip local pool P 198.19.0.2 198.19.255.254
ip local pool P 198.18.64.0 198.18.255.255
CFG
ip netns exec $B $W/vpdn serve -c $W/lns.cfg --socket $W/s --log-level error ${PROFILE:+--cpuprofile $W/cpu.pprof --pprof 127.0.0.1:6060} 2>$W/lns.log & LNS=$!
sleep 1
LNSPID=$(pgrep -P $LNS || echo $LNS)
rss0=$(awk '/VmRSS/{print $2}' /proc/$LNSPID/status)
ip netns exec $A timeout 300 $W/vpdn bench --server 198.18.0.2 --tunnels $T --sessions $S --user u --password p --hold ${HOLD:-30s} --max-in-flight ${INFLIGHT:-256} ${PROFILE:+--cpuprofile $W/bench.pprof} --json 2>$W/bench.err > $W/bench.json &
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
rss1=$(awk '/VmRSS/{print $2}' /proc/$LNSPID/status)
n=$(ip netns exec $B $W/vpdn show vpdn tunnel --socket $W/s 2>/dev/null | awk '/Total tunnels/{print $NF; exit}')
[ -n "${PROFILE:-}" ] && ip netns exec $B curl -s -o "$PROFILE.heap" http://127.0.0.1:6060/debug/pprof/heap
wait $BP
cat $W/bench.json; echo
echo "LNS RSS before ${rss0} kB, during hold ${rss1} kB, sessions on the LNS: $n"
python3 -c "print('RSS per session: %.1f KiB' % ((${rss1}-${rss0})/max(1,$n)))"
tail -3 $W/bench.err
if [ -n "${PROFILE:-}" ]; then stop_lns; cp $W/cpu.pprof "$PROFILE" && cp $W/bench.pprof "$PROFILE.bench" && echo "CPU profiles: $PROFILE (LNS) $PROFILE.bench (generator), heap: $PROFILE.heap"; fi
