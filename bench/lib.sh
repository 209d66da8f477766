# Shared by the scale and churn benchmarks (source it; bash). Two network
# namespaces joined by a veth pair, 198.18.0.1 (generator, $A) and
# 198.18.0.2 (LNS, $B); a vpdn LNS in shared-interface mode (PERIF=1: an
# interface per session, the default mode) with a pool of
# 114,685 addresses (198.19.0.2-198.19.255.254 and 198.18.64.0-198.18.255.255,
# all inside 198.18.0.0/15 and clear of the underlay). Everything started is
# stopped by PID and the namespaces are deleted on exit.
#
# PPTP=1 adds a PPTP tunnel server on 198.18.0.2 (TCP 1723 and GRE):
# vpdn-group P with Virtual-Template2, MS-CHAPv2 and `ppp encrypt mppe
# auto`, the same pool (document 004's hub).
#
# Callers set A and B (namespace names) before sourcing.
set -u
W=$(mktemp -d)
LNS=
stop_lns() {
	[ -n "${LNS:-}" ] || return 0
	kill "$LNS" 2>/dev/null
	for _ in $(seq 60); do kill -0 "$LNS" 2>/dev/null || break; sleep 0.5; done
	kill -9 "$LNS" 2>/dev/null; LNS=
}
cleanup() { stop_lns; ip netns del "$A" 2>/dev/null; ip netns del "$B" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT

# setup_pair builds vpdn (or takes VPDN_BIN, the LNS's binary, and
# BENCH_BIN, the generator's: to measure two builds with one generator) and
# the two namespaces. $W/vpdn is the LNS, $W/bench the generator.
setup_pair() {
	if [ -n "${VPDN_BIN:-}" ]; then cp "$VPDN_BIN" "$W/vpdn"; else
		(cd "$(dirname "${BASH_SOURCE[0]}")/.." && go build -o "$W/vpdn" ./cmd/vpdn) || exit 1
	fi
	cp "${BENCH_BIN:-$W/vpdn}" "$W/bench"
	ip netns add "$A"; ip netns add "$B"; ip -n "$A" link set lo up; ip -n "$B" link set lo up
	ip link add va netns "$A" type veth peer name vb netns "$B"
	ip -n "$A" addr add 198.18.0.1/24 dev va; ip -n "$B" addr add 198.18.0.2/24 dev vb
	ip -n "$A" link set va up; ip -n "$B" link set vb up
}

# start_lns [EXTRA SERVE FLAGS...] starts vpdn serve in $B (metrics on
# 127.0.0.1:9180 inside $B) and sets LNS to its PID.
start_lns() {
	cat > "$W/lns.cfg" <<CFG
hostname LNS
username u password 0 p
vpdn enable
vpdn l2tp listen 198.18.0.2:1701
$( [ "${PERIF:-0}" = 1 ] || echo "vpdn virtual-access shared" )
vpdn metrics listen 127.0.0.1:9180
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
	[ "${PPTP:-0}" = 1 ] && cat >> "$W/lns.cfg" <<CFG
vpdn pptp listen 198.18.0.2
vpdn-group PPTP
 accept-dialin
  protocol pptp
  virtual-template 2
interface Virtual-Template2
 ip unnumbered Loopback0
 peer default ip address pool P
 ppp encrypt mppe auto
 ppp authentication ms-chap-v2
CFG
	ip netns exec "$B" "$W/vpdn" serve -c "$W/lns.cfg" --socket "$W/s" --log-level error "$@" 2>"$W/lns.log" &
	LNS=$!
	for _ in $(seq 40); do
		ip netns exec "$B" curl -sf -o /dev/null http://127.0.0.1:9180/metrics && return 0
		sleep 0.25
	done
	echo "vpdn serve did not come up:"; cat "$W/lns.log"; exit 1
}

# lns_rss_kb prints the LNS's resident set size in KiB.
lns_rss_kb() { awk '/VmRSS/{print $2}' "/proc/$LNS/status"; }

# lns_metric NAME prints the value of an unlabelled metric of the LNS.
lns_metric() {
	ip netns exec "$B" curl -sf http://127.0.0.1:9180/metrics | awk -v m="$1" '$1 == m {print $2; exit}'
}
