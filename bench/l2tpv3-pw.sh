#!/usr/bin/env bash
# Single-stream TCP across an Ethernet pseudowire: vpdn's manual L2TPv3
# xconnect (document 004's R5/R9, IP protocol 115 and UDP) against the
# kernel's VXLAN bridging the same two LAN segments between the same
# namespaces, and against vpdn's L2TPv2 PPP path between the two PEs, and
# vpdn's L2TPv3 PPP pseudowire (Virtual-PPP to Virtual-PPP, document
# 004's L2TPv3 LNS/LAC) between the same PEs, all in one run (BENCHMARKS.md). Root; only 198.18.0.0/15; cleans up after
# itself.
#
#   bash bench/l2tpv3-pw.sh [SECONDS]        (default 10 s per measurement)
#
#   h7 (198.19.1.7) --veth-- R5 ==underlay 198.18.1.5/.9== R9 --veth-- h10 (198.19.1.10)
#
# The hosts' veths have MTU 1400 and their default offloads (TSO, checksum
# offload: the pseudowire's packet socket gets super-frames with their
# virtio_net_hdr and cuts them) in every measurement; OFFLOADS=off turns
# them off for every measurement.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/tunnel-lib.sh
T=${1:-10}
H7=pwb-h7 R5=pwb-r5 R9=pwb-r9 H10=pwb-h10
bench_init $H7 $R5 $R9 $H10
go build -o "$WORK/vpdn" ./cmd/vpdn
ip link add h7 netns $H7 type veth peer name lan netns $R5
ip link add h10 netns $H10 type veth peer name lan netns $R9
ip link add wan netns $R5 type veth peer name wan netns $R9
ip -n $H7 addr add 198.19.1.7/24 dev h7; ip -n $H10 addr add 198.19.1.10/24 dev h10
ip -n $R5 addr add 198.18.1.5/24 dev wan; ip -n $R9 addr add 198.18.1.9/24 dev wan
for p in "$H7 h7" "$H10 h10" "$R5 lan" "$R9 lan" "$R5 wan" "$R9 wan"; do set -- $p; ip -n $1 link set $2 up; done
# MTU 1400 on the hosts: every path's frame fits the 1500-octet underlay
# with its encapsulation (VXLAN 50 octets, L2TPv3 over UDP 40), so none
# fragments and none drops.
ip -n $H7 link set h7 mtu 1400; ip -n $H10 link set h10 mtu 1400
# OFFLOADS=off turns the hosts' checksum and segmentation offloads off
# (every frame MTU-sized, as from a NIC without TSO or GRO).
if [ "${OFFLOADS:-on}" = off ]; then
	ip netns exec $H7 ethtool -K h7 tx off tso off gso off >/dev/null
	ip netns exec $H10 ethtool -K h10 tx off tso off gso off >/dev/null
fi
iperf_server $H10
iperf_server $R9

measure() { iperf_mbps "$@"; } # namespace target
wait_ping() { for _ in $(seq 100); do ip netns exec $H7 ping -c1 -W1 198.19.1.10 >/dev/null 2>&1 && return; sleep 0.2; done; echo "no ping" >&2; exit 1; }

echo "== underlay veth R5 -> R9"
RAW=$(measure $R5 198.18.1.9); echo "underlay: $RAW Mbit/s"

echo "== kernel VXLAN (VNI 1, UDP 4789) bridging the two LAN segments"
for n in "$R5 198.18.1.9" "$R9 198.18.1.5"; do set -- $n
	ip -n $1 link add vx1 type vxlan id 1 remote $2 dstport 4789 dev wan
	ip -n $1 link add br1 type bridge
	ip -n $1 link set vx1 master br1; ip -n $1 link set lan master br1
	ip -n $1 link set vx1 up; ip -n $1 link set br1 up
done
wait_ping
VXLAN=$(measure $H7 198.19.1.10); echo "vxlan: $VXLAN Mbit/s"
for n in $R5 $R9; do ip -n $n link del vx1; ip -n $n link del br1; done

# pw PROTOCOL-LINE NAME: the xconnect pair, one measurement, both stopped.
pw() {
	for r in "R5 $R5 198.18.1.9 1 2 55111 44119" "R9 $R9 198.18.1.5 2 1 44119 55111"; do set -- $r
		cat > "$WORK/$1.cfg" <<CFG
hostname $1
pseudowire-class PW
 encapsulation l2tpv3
 protocol none
 ip pmtu
 ip local interface wan
$PROTO
interface lan
 no ip address
 xconnect $3 1 encapsulation l2tpv3 manual pw-class PW
  l2tp id $4 $5
  l2tp cookie local 4 $6
  l2tp cookie remote 4 $7
CFG
		ip netns exec $2 "$WORK/vpdn" serve -c "$WORK/$1.cfg" --socket "$WORK/$1.sock" 2>"$WORK/$1.log" &
		track $!; eval "PID_$1=$!"
	done
	wait_ping
	measure $H7 198.19.1.10
	kill $PID_R5 $PID_R9
	for _ in $(seq 40); do kill -0 $PID_R5 2>/dev/null || kill -0 $PID_R9 2>/dev/null || break; sleep 0.25; done
}
echo "== vpdn L2TPv3 Ethernet pseudowire, IP protocol 115"
PROTO="" PWIP=$(PROTO="" pw); echo "pseudowire ip/115: $PWIP Mbit/s"
echo "== vpdn L2TPv3 Ethernet pseudowire, UDP 1701"
PWUDP=$(PROTO=" ip protocol udp" pw); echo "pseudowire udp: $PWUDP Mbit/s"

echo "== vpdn L2TPv2 PPP (R5 Virtual-PPP1 -> R9 Virtual-Access1)"
cat > "$WORK/lns.cfg" <<'CFG'
hostname LNS
username bench password 0 benchpw
vpdn enable
vpdn l2tp listen 198.18.1.9:1701
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
ip local pool P 198.19.2.10 198.19.2.20
CFG
cat > "$WORK/lac.cfg" <<'CFG'
hostname LAC
vpdn l2tp listen 198.18.1.5:1701
pseudowire-class pw
 encapsulation l2tpv2
 protocol l2tpv2
interface Virtual-PPP1
 ip address negotiated
 ppp chap hostname bench
 ppp chap password 0 benchpw
 pseudowire 198.18.1.9 1 pw-class pw
CFG
ip -n $R9 addr add 198.19.0.1/32 dev lo
ip netns exec $R9 "$WORK/vpdn" serve -c "$WORK/lns.cfg" --socket "$WORK/lns.sock" 2>"$WORK/lns.log" & track $!; LNS=$!
sleep 0.5
ip netns exec $R5 "$WORK/vpdn" serve -c "$WORK/lac.cfg" --socket "$WORK/lac.sock" 2>"$WORK/lac.log" & track $!; LAC=$!
for _ in $(seq 100); do ip -n $R5 -4 addr show dev Vp1 2>/dev/null | grep -q inet && break; sleep 0.2; done
V2=$(measure $R5 198.19.0.1); echo "l2tpv2 ppp: $V2 Mbit/s"
kill $LAC $LNS
for _ in $(seq 40); do kill -0 $LAC 2>/dev/null || kill -0 $LNS 2>/dev/null || break; sleep 0.25; done

# pppv3 PROTOCOL-LINE: document 004's L2TPv3 LNS/LAC pair between the same
# PEs (R9 Virtual-PPP1 ip unnumbered Loopback0 lends R5's Virtual-PPP1 its
# address), one measurement R5 -> R9's loopback, both stopped.
pppv3() {
	cat > "$WORK/v3lns.cfg" <<CFG
hostname LNS
username LAC password 0 benchpw
pseudowire-class pw3
 encapsulation l2tpv3
 protocol l2tpv3
 ip local interface wan
$PROTO
interface Loopback0
 ip address 198.19.0.1 255.255.255.255
interface Virtual-PPP1
 ip unnumbered Loopback0
 peer default ip address 198.19.2.10
 ppp authentication ms-chap-v2
 pseudowire 198.18.1.5 1 pw-class pw3
CFG
	cat > "$WORK/v3lac.cfg" <<CFG
hostname LAC
username LNS password 0 benchpw
pseudowire-class pw3
 encapsulation l2tpv3
 protocol l2tpv3
 ip local interface wan
$PROTO
interface Virtual-PPP1
 ip address negotiated
 ppp authentication ms-chap-v2
 pseudowire 198.18.1.9 1 pw-class pw3
CFG
	ip netns exec $R9 "$WORK/vpdn" serve -c "$WORK/v3lns.cfg" --socket "$WORK/v3lns.sock" 2>"$WORK/v3lns.log" & track $!; local l=$!
	ip netns exec $R5 "$WORK/vpdn" serve -c "$WORK/v3lac.cfg" --socket "$WORK/v3lac.sock" 2>"$WORK/v3lac.log" & track $!; local c=$!
	for _ in $(seq 300); do ip netns exec $R5 ping -c1 -W1 198.19.0.1 >/dev/null 2>&1 && break; sleep 0.2; done
	measure $R5 198.19.0.1
	kill $c $l
	for _ in $(seq 40); do kill -0 $c 2>/dev/null || kill -0 $l 2>/dev/null || break; sleep 0.25; done
}
echo "== vpdn L2TPv3 PPP pseudowire (R5 Virtual-PPP1 -> R9 Virtual-PPP1), IP protocol 115"
V3IP=$(PROTO="" pppv3); echo "l2tpv3 ppp ip/115: $V3IP Mbit/s"
echo "== vpdn L2TPv3 PPP pseudowire, UDP 1701"
V3UDP=$(PROTO=" ip protocol udp" pppv3); echo "l2tpv3 ppp udp: $V3UDP Mbit/s"

python3 - "$RAW" "$VXLAN" "$PWIP" "$PWUDP" "$V2" "$V3IP" "$V3UDP" <<'PY'
import sys
raw, vx, ip, udp, v2, v3ip, v3udp = map(float, sys.argv[1:])
print()
print("| path | Mbit/s | vs kernel VXLAN | vs vpdn L2TPv2 PPP |")
print("|---|---|---|---|")
for name, v in [("underlay veth (R5 to R9)", raw), ("kernel VXLAN, bridged (baseline)", vx),
                ("vpdn L2TPv3 pseudowire, IP/115", ip), ("vpdn L2TPv3 pseudowire, UDP", udp), ("vpdn L2TPv2 PPP (R5 to R9)", v2),
                ("vpdn L2TPv3 PPP pseudowire, IP/115 (R5 to R9)", v3ip), ("vpdn L2TPv3 PPP pseudowire, UDP (R5 to R9)", v3udp)]:
    print("| %s | %.0f | %.2f | %.2f |" % (name, v, v / vx, v / v2))
PY
