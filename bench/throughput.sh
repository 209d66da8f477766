#!/usr/bin/env bash
# Single-session TCP throughput through a vpdn L2TP tunnel, through PPTP
# with and without MPPE-128, against the raw veth and against wireguard-go
# between the same two namespaces, all in one run (BENCHMARKS.md). Root; only 198.18.0.0/15; cleans up after itself.
#
#   bash bench/throughput.sh [SECONDS]        (default 10 s per measurement)
#
# Needs: iperf3, wireguard-tools (wg), and wireguard-go, which it builds
# from the Go module proxy (golang.zx2c4.com/wireguard) into a temp dir.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/tunnel-lib.sh
T=${1:-10}
A=vpdnbench-a B=vpdnbench-b
bench_init $A $B
go build -o "$WORK/vpdn" ./cmd/vpdn
wireguard_go_build
ip link add veth-a netns $A type veth peer name veth-b netns $B
ip -n $A addr add 198.18.0.1/24 dev veth-a; ip -n $B addr add 198.18.0.2/24 dev veth-b
ip -n $A link set veth-a up; ip -n $B link set veth-b up
iperf_server $B
measure() { iperf_mbps $A "$2"; } # name target

echo "== raw veth"
VETH=$(measure veth 198.18.0.2); echo "veth: $VETH Mbit/s"

echo "== vpdn L2TP tunnel (LAC Virtual-PPP1 -> LNS Virtual-Access1)"
cat > "$WORK/lns.cfg" <<'CFG'
hostname LNS
username bench password 0 benchpw
vpdn enable
vpdn l2tp listen 198.18.0.2:1701
vpdn-group B
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
ip local pool P 198.19.1.10 198.19.1.20
CFG
cat > "$WORK/lac.cfg" <<'CFG'
hostname LAC
vpdn l2tp listen 198.18.0.1:1701
pseudowire-class pw
 encapsulation l2tpv2
 protocol l2tpv2
interface Virtual-PPP1
 ip address negotiated
 ppp chap hostname bench
 ppp chap password 0 benchpw
 pseudowire 198.18.0.2 1 pw-class pw
CFG
# tunnel BINARY NAME: an LNS and a LAC of BINARY, one measurement, both stopped.
tunnel() {
	ip netns exec $B "$1" serve -c "$WORK/lns.cfg" --socket "$WORK/lns.sock" 2>"$WORK/lns.log" & local lns=$!
	track $lns
	sleep 0.5
	ip netns exec $A "$1" serve -c "$WORK/lac.cfg" --socket "$WORK/lac.sock" 2>"$WORK/lac.log" & local lac=$!
	track $lac
	for _ in $(seq 100); do ip -n $A -4 addr show dev Vp1 2>/dev/null | grep -q inet && break; sleep 0.2; done
	measure "$2" 198.19.0.1
	kill $lac $lns
	for _ in $(seq 40); do kill -0 $lac 2>/dev/null || kill -0 $lns 2>/dev/null || break; sleep 0.25; done
	for _ in $(seq 40); do ip -n $A link show Vp1 >/dev/null 2>&1 || break; sleep 0.25; done
}
VPDN=$(tunnel "$WORK/vpdn" vpdn); echo "vpdn: $VPDN Mbit/s"

echo "== vpdn PPTP (vpdn dial --protocol pptp -> LNS Virtual-Access1), with MPPE-128 and without"
cat > "$WORK/pptp.cfg" <<'CFG'
hostname PNS
username bench password 0 benchpw
vpdn enable
vpdn pptp listen 198.18.0.2
vpdn-group P
 accept-dialin
  protocol pptp
  virtual-template 2
interface Loopback0
 ip address 198.19.0.1 255.255.255.255
interface Virtual-Template2
 ip unnumbered Loopback0
 peer default ip address pool P
 ppp encrypt mppe auto
 ppp authentication ms-chap-v2
ip local pool P 198.19.1.10 198.19.1.20
CFG
# pptp_tunnel MPPE NAME [BINARY]: a PPTP server and vpdn dial, one measurement, both stopped.
pptp_tunnel() {
	local bin=${3:-$WORK/vpdn}
	ip netns exec $B "$bin" serve -c "$WORK/pptp.cfg" --socket "$WORK/pns.sock" 2>"$WORK/pns.log" & local pns=$!
	track $pns
	sleep 0.5
	ip netns exec $A "$bin" dial --protocol pptp --mppe "$1" --server 198.18.0.2 --user bench --password benchpw \
		>"$WORK/dial.log" 2>&1 & local dial=$!
	track $dial
	for _ in $(seq 100); do ip -n $A -4 addr show dev Di1 2>/dev/null | grep -q inet && break; sleep 0.2; done
	measure "$2" 198.19.0.1
	kill $dial $pns
	for _ in $(seq 40); do kill -0 $dial 2>/dev/null || kill -0 $pns 2>/dev/null || break; sleep 0.25; done
	for _ in $(seq 40); do ip -n $A link show Di1 >/dev/null 2>&1 || break; sleep 0.25; done
}
PPTPM=$(pptp_tunnel required pptp-mppe); echo "vpdn PPTP, MPPE-128: $PPTPM Mbit/s"
PPTPN=$(pptp_tunnel none pptp); echo "vpdn PPTP, no MPPE: $PPTPN Mbit/s"

# BASELINE_BIN, when set, is another build measured the same way in the
# same run (the build before a change).
BASE=
if [ -n "${BASELINE_BIN:-}" ]; then
	BASE=$(tunnel "$BASELINE_BIN" baseline); echo "baseline build: $BASE Mbit/s"
	BASEPM=$(pptp_tunnel required base-pptp-mppe "$BASELINE_BIN"); echo "baseline build, PPTP, MPPE-128: $BASEPM Mbit/s"
	BASEPN=$(pptp_tunnel none base-pptp "$BASELINE_BIN"); echo "baseline build, PPTP, no MPPE: $BASEPN Mbit/s"
fi

echo "== wireguard-go"
wireguard_go_up $A 198.18.0.1 198.19.200.1 $B 198.18.0.2 198.19.200.2
WG=$(measure wireguard-go 198.19.200.2); echo "wireguard-go: $WG Mbit/s"

echo
echo "== summary (single TCP stream, ${T}s each, same run)"
printf '%-14s %8s Mbit/s  %5s of veth  %5s of wireguard-go\n' veth "$VETH" 1.00 "$(python3 -c "print('%.2f'%($VETH/$WG))")"
printf '%-14s %8s Mbit/s  %5s of veth  %5s of wireguard-go\n' vpdn "$VPDN" "$(python3 -c "print('%.2f'%($VPDN/$VETH))")" "$(python3 -c "print('%.2f'%($VPDN/$WG))")"
printf '%-14s %8s Mbit/s  %5s of veth  %5s of wireguard-go\n' wireguard-go "$WG" "$(python3 -c "print('%.2f'%($WG/$VETH))")" 1.00
printf '%-14s %8s Mbit/s  %5s of veth  %5s of wireguard-go  (%s of vpdn L2TP)\n' pptp-mppe128 "$PPTPM" "$(python3 -c "print('%.2f'%($PPTPM/$VETH))")" "$(python3 -c "print('%.2f'%($PPTPM/$WG))")" "$(python3 -c "print('%.2f'%($PPTPM/$VPDN))")"
printf '%-14s %8s Mbit/s  %5s of veth  %5s of wireguard-go  (%s of vpdn L2TP)\n' pptp "$PPTPN" "$(python3 -c "print('%.2f'%($PPTPN/$VETH))")" "$(python3 -c "print('%.2f'%($PPTPN/$WG))")" "$(python3 -c "print('%.2f'%($PPTPN/$VPDN))")"
if [ -n "$BASE" ]; then
	printf '%-14s %8s Mbit/s  %5s of veth  %5s of wireguard-go  (vpdn: %s of it)\n' baseline "$BASE" "$(python3 -c "print('%.2f'%($BASE/$VETH))")" "$(python3 -c "print('%.2f'%($BASE/$WG))")" "$(python3 -c "print('%.2f'%($VPDN/$BASE))")"
fi
