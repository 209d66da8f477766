# Shared by the single-stream TCP benchmarks (throughput.sh, l2tpv3-pw.sh,
# ipsec-tunnel.sh): a work directory, processes stopped by PID and
# namespaces deleted on exit, one bounded iperf3 measurement, and
# wireguard-go between two namespaces. Source it (bash) after `set -euo
# pipefail`; T is the seconds per measurement.

# bench_init NS...: WORK (a temp dir), PIDS (stopped on exit), and the
# namespaces to create (deleted on exit).
bench_init() {
	BENCH_NS=("$@")
	WORK=$(mktemp -d)
	PIDS=()
	trap bench_cleanup EXIT
	for n in "${BENCH_NS[@]}"; do ip netns add "$n"; ip -n "$n" link set lo up; done
}

# stop_pids PID...: TERM, at most 10 s to go, then KILL.
stop_pids() {
	[ $# -gt 0 ] || return 0
	kill "$@" 2>/dev/null || true
	for _ in $(seq 40); do
		local alive=0 p
		for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ $alive = 0 ] && return 0
		sleep 0.25
	done
	kill -9 "$@" 2>/dev/null || true
}

# track PID: stopped on exit, also when started in a $(...) subshell.
track() { PIDS+=("$1"); echo "$1" >>"$WORK/pids"; }

bench_cleanup() {
	local more=()
	[ -f "$WORK/pids" ] && mapfile -t more <"$WORK/pids"
	stop_pids "${PIDS[@]}" "${more[@]}"
	for n in "${BENCH_NS[@]}"; do ip netns delete "$n" 2>/dev/null || true; done
	rm -rf "$WORK"
}

# iperf_server NS: an iperf3 daemon in NS (stopped on exit).
iperf_server() {
	ip netns exec "$1" iperf3 -s -D -I "$WORK/iperf-$1.pid" >/dev/null
	for _ in $(seq 20); do [ -s "$WORK/iperf-$1.pid" ] && break; sleep 0.1; done
	sleep 0.3
	track "$(cat "$WORK/iperf-$1.pid")"
}

# iperf_mbps NS TARGET [SOURCE]: one TCP stream from NS to TARGET for T
# seconds (bounded by iperf3's own timeout), the receiver's Mbit/s.
iperf_mbps() {
	local src=()
	[ -n "${3:-}" ] && src=(-B "$3")
	ip netns exec "$1" timeout $((T + 30)) iperf3 -c "$2" "${src[@]}" -t "$T" -J |
		python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.0f" % (d["end"]["sum_received"]["bits_per_second"]/1e6))'
}

# ratio A B: A/B with two decimals.
ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }

# wireguard_go_build: wireguard-go from the Go module proxy into $WORK.
wireguard_go_build() {
	GOBIN="$WORK" GOFLAGS=-mod=mod go install golang.zx2c4.com/wireguard@v0.0.0-20260522210424-ecfc5a8d5446
}

# wireguard_go_up NSA UNDERA INNERA NSB UNDERB INNERB [NETA NETB]: a
# wireguard-go interface wg-NS in each namespace, peers at their underlay
# addresses (port 51820), inner addresses INNERA and INNERB; NETA (NETB)
# is also routed to A (B) when given. WG_PIDS are the two daemons.
wireguard_go_up() {
	local nsa=$1 ua=$2 ia=$3 nsb=$4 ub=$5 ib=$6 neta=${7:-$3/32} netb=${8:-$6/32} ns
	WG_PIDS=()
	for ns in "$nsa" "$nsb"; do
		ip netns exec "$ns" env WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 "$WORK/wireguard" -f "wg-$ns" >"$WORK/wg-$ns.log" 2>&1 &
		track $!; WG_PIDS+=($!)
	done
	for _ in $(seq 40); do ip -n "$nsa" link show "wg-$nsa" >/dev/null 2>&1 && ip -n "$nsb" link show "wg-$nsb" >/dev/null 2>&1 && break; sleep 0.25; done
	local ka kb
	ka=$(wg genkey); kb=$(wg genkey)
	ip netns exec "$nsa" wg set "wg-$nsa" private-key <(echo "$ka") listen-port 51820 peer "$(echo "$kb" | wg pubkey)" allowed-ips "$ib/32,$netb" endpoint "$ub:51820"
	ip netns exec "$nsb" wg set "wg-$nsb" private-key <(echo "$kb") listen-port 51820 peer "$(echo "$ka" | wg pubkey)" allowed-ips "$ia/32,$neta" endpoint "$ua:51820"
	ip -n "$nsa" addr add "$ia/32" peer "$ib/32" dev "wg-$nsa"; ip -n "$nsa" link set "wg-$nsa" up
	ip -n "$nsb" addr add "$ib/32" peer "$ia/32" dev "wg-$nsb"; ip -n "$nsb" link set "wg-$nsb" up
	[ -n "${8:-}" ] && ip -n "$nsa" route replace "$netb" dev "wg-$nsa"
	[ -n "${7:-}" ] && ip -n "$nsb" route replace "$neta" dev "wg-$nsb"
	return 0
}

# wireguard_go_down: stops the two daemons (their interfaces go with them).
wireguard_go_down() { stop_pids "${WG_PIDS[@]}"; }
