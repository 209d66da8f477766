#!/usr/bin/env bash
# Single-stream TCP through L2TP/IPsec against plain L2TP, between the same
# two namespaces in the same run (BENCHMARKS.md): a vpdn LNS and `vpdn
# dial`, once without IPsec, once with --ipsec-psk and the LNS's transform
# set esp-gcm 128 (AES-GCM-128, RFC 4106), once with esp-aes esp-sha-hmac
# (AES-CBC-128 with HMAC-SHA1-96), transport mode over raw ESP. Root; only
# 198.18.0.0/15; everything started is stopped by PID and the namespaces
# deleted on exit.
#
#   bash bench/l2tp-ipsec.sh [SECONDS]        (default 10 s per measurement)
#
# NAT=1 puts the client behind an nftables masquerade in a third namespace
# (198.18.1.0/24 inside): NAT-T, ESP in UDP 4500, for every measurement.
set -euo pipefail
cd "$(dirname "$0")/.."
T=${1:-10}
A=l2tpsec-c B=l2tpsec-s N=l2tpsec-n
WORK=$(mktemp -d)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for _ in $(seq 40); do
		alive=0
		for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ $alive = 0 ] && break
		sleep 0.25
	done
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	for n in $A $B $N; do ip netns delete $n 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT
go build -o "$WORK/vpdn" ./cmd/vpdn
for n in $A $B; do ip netns add $n; ip -n $n link set lo up; done
if [ "${NAT:-0}" = 1 ]; then
	ip netns add $N; ip -n $N link set lo up
	ip link add va netns $A type veth peer name na netns $N
	ip link add nb netns $N type veth peer name vb netns $B
	ip -n $A addr add 198.18.1.2/24 dev va; ip -n $N addr add 198.18.1.1/24 dev na
	ip -n $N addr add 198.18.0.1/24 dev nb; ip -n $B addr add 198.18.0.2/24 dev vb
	for p in "$A va" "$N na" "$N nb" "$B vb"; do set -- $p; ip -n $1 link set $2 up; done
	ip -n $A route add 198.18.0.0/24 via 198.18.1.1
	ip netns exec $N sysctl -qw net.ipv4.ip_forward=1
	printf 'table ip benchnat {\n\tchain masq {\n\t\ttype nat hook postrouting priority srcnat\n\t\toifname "nb" masquerade\n\t}\n}\n' > "$WORK/nat.nft"
	ip netns exec $N nft -f "$WORK/nat.nft"
else
	ip link add va netns $A type veth peer name vb netns $B
	ip -n $A addr add 198.18.0.1/24 dev va; ip -n $B addr add 198.18.0.2/24 dev vb
	ip -n $A link set va up; ip -n $B link set vb up
fi
ip netns exec $B iperf3 -s -D -I "$WORK/iperf.pid" >/dev/null
sleep 0.5; PIDS+=("$(cat "$WORK/iperf.pid")")

measure() { # namespace target
	ip netns exec "$1" iperf3 -c "$2" -t "$T" -J |
		python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.0f" % (d["end"]["sum_received"]["bits_per_second"]/1e6))'
}

# lns_cfg TRANSFORM: the LNS, with L2TP/IPsec in transport mode when
# TRANSFORM (a transform set's algorithms) is not empty.
lns_cfg() {
	cat <<CFG
hostname LNS
username bench password 0 benchpw
vpdn enable
vpdn l2tp listen 198.18.0.2:1701
vpdn-group L2TP
 accept-dialin
  protocol l2tp
  virtual-template 1
interface Loopback0
 ip address 198.19.0.1 255.255.255.255
interface Virtual-Template1
 ip unnumbered Loopback0
 peer default ip address pool P
 ppp authentication ms-chap-v2
ip local pool P 198.19.1.10 198.19.1.20
CFG
	[ -n "$1" ] && cat <<CFG
crypto isakmp policy 10
 encr aes 256
 hash sha
 authentication pre-share
 group 14
crypto isakmp key benchpsk address 0.0.0.0 0.0.0.0
crypto ipsec transform-set TS $1
 mode transport
crypto dynamic-map DYN 10
 set transform-set TS
crypto map L2TP_VPN 10 ipsec-isakmp dynamic DYN
interface Ethernet0/1
 ip address 198.18.0.2 255.255.255.0
 crypto map L2TP_VPN
CFG
	return 0
}

# run NAME TRANSFORM: an LNS and vpdn dial, one measurement, both stopped.
run() {
	lns_cfg "$2" > "$WORK/lns.cfg"
	ip netns exec $B "$WORK/vpdn" serve -c "$WORK/lns.cfg" --socket "$WORK/lns.sock" 2>"$WORK/lns-$1.log" & local lns=$!
	PIDS+=($lns)
	sleep 0.5
	local psk=()
	[ -n "$2" ] && psk=(--ipsec-psk benchpsk)
	ip netns exec $A "$WORK/vpdn" dial --server 198.18.0.2 --user bench --password benchpw "${psk[@]}" \
		--route 198.19.0.0/24 >"$WORK/dial-$1.log" 2>&1 & local dial=$!
	PIDS+=($dial)
	for _ in $(seq 150); do ip -n $A -4 addr show dev Vp1 2>/dev/null | grep -q inet && break; sleep 0.2; done
	measure $A 198.19.0.1
	if [ -n "$2" ]; then
		ip netns exec $B "$WORK/vpdn" show crypto ipsec sa --socket "$WORK/lns.sock" | grep -m1 -E 'transform:|in use' >&2 || true
	fi
	kill $dial $lns
	for _ in $(seq 40); do kill -0 $dial 2>/dev/null || kill -0 $lns 2>/dev/null || break; sleep 0.25; done
	for _ in $(seq 40); do ip -n $A link show Vp1 >/dev/null 2>&1 || break; sleep 0.25; done
}

PLAIN=$(run plain ""); echo "L2TP: $PLAIN Mbit/s"
GCM=$(run gcm "esp-gcm 128"); echo "L2TP/IPsec, AES-GCM-128: $GCM Mbit/s"
CBC=$(run cbc "esp-aes esp-sha-hmac"); echo "L2TP/IPsec, AES-CBC-128 HMAC-SHA1: $CBC Mbit/s"
echo
echo "== summary (single TCP stream, ${T}s each, same run)"
printf '%-34s %8s Mbit/s  %5s of L2TP\n' "L2TP" "$PLAIN" 1.00
printf '%-34s %8s Mbit/s  %5s of L2TP\n' "L2TP/IPsec AES-GCM-128" "$GCM" "$(python3 -c "print('%.2f'%($GCM/$PLAIN))")"
printf '%-34s %8s Mbit/s  %5s of L2TP\n' "L2TP/IPsec AES-CBC-128 HMAC-SHA1" "$CBC" "$(python3 -c "print('%.2f'%($CBC/$PLAIN))")"
