#!/usr/bin/env bash
# Single-stream TCP through an IPsec tunnel between two inner networks:
# vpdn crypto maps at both ends (ESP AES-GCM-128 and AES-CBC-128 +
# HMAC-SHA1-96, each over raw IP protocol 50 and UDP-encapsulated),
# strongSwan's charon with kernel-libipsec at both ends (user-space ESP,
# AES-GCM-128, always UDP-encapsulated), and wireguard-go, between the same
# two namespaces in one run, with the bare underlay as the ceiling
# (BENCHMARKS.md). Root; only 198.18.0.0/15; cleans up after itself.
#
#   bash bench/ipsec-tunnel.sh [SECONDS]    (default 10 s per measurement)
#
#   A: 198.19.1.1 (lo) ─ 198.18.0.1 ══ veth ══ 198.18.0.2 ─ 198.19.2.1 (lo) :B
#
# The inner hosts are addresses on each namespace's loopback, the tunnel
# ends the namespaces themselves; iperf3 runs from 198.19.1.1 to 198.19.2.1.
# UDP encapsulation between two vpdns needs a NAT (IKEv1 has no way to ask
# for it otherwise, RFC 3947): an nftables rule in A rewrites the source
# port of A's IKE on port 500, so B's NAT-D hash does not match and both
# float to 4500. BASELINE_BIN=<vpdn binary> adds that build's GCM rows (a
# before/after in one run); PROFILE=DIR writes both vpdns' CPU profiles of
# each vpdn row there (NAME-a.pprof the sender, NAME-b.pprof the receiver).
#
# Needs: iperf3, nft, wireguard-tools (wg), charon-systemd + swanctl +
# libcharon-extra-plugins (kernel-libipsec); wireguard-go is built from the
# Go module proxy.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/tunnel-lib.sh
T=${1:-10}
A=ipsb-a B=ipsb-b
bench_init $A $B
ip link add va netns $A type veth peer name vb netns $B
ip -n $A addr add 198.18.0.1/24 dev va; ip -n $B addr add 198.18.0.2/24 dev vb
ip -n $A link set va up; ip -n $B link set vb up
ip -n $A addr add 198.19.1.1/32 dev lo; ip -n $B addr add 198.19.2.1/32 dev lo
go build -o "$WORK/vpdn" ./cmd/vpdn
wireguard_go_build
iperf_server $B
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== underlay veth"
VETH=$(iperf_mbps $A 198.18.0.2); echo "veth: $VETH Mbit/s"

# vpdn_cfg SELF PEER LOCALNET REMOTENET TRANSFORM
vpdn_cfg() {
	cat <<CFG
hostname $1
crypto isakmp policy 10
 encr aes
 hash sha
 authentication pre-share
 group 14
crypto isakmp key benchkey address $2
crypto ipsec transform-set TS $5
crypto map M 10 ipsec-isakmp
 set peer $2
 set transform-set TS
 match address NETS
ip access-list extended NETS
 permit ip $3 0.0.0.255 $4 0.0.0.255
interface GigabitEthernet0/0
 ip address $1 255.255.255.0
 crypto map M
CFG
}

# vpdn_tunnel BINARY TRANSFORM ENCAP(raw|udp) NAME: a vpdn at each end,
# one measurement, both stopped.
vpdn_tunnel() {
	local bin=$1 ts=$2 encap=$3 name=$4 prof=()
	vpdn_cfg 198.18.0.1 198.18.0.2 198.19.1.0 198.19.2.0 "$ts" >"$WORK/a.cfg"
	vpdn_cfg 198.18.0.2 198.18.0.1 198.19.2.0 198.19.1.0 "$ts" >"$WORK/b.cfg"
	if [ "$encap" = udp ]; then
		ip netns exec $A nft -f - <<'NFT'
table ip ipsbnat {
	chain post { type nat hook postrouting priority srcnat; udp sport 500 snat to 198.18.0.1:10500; }
}
NFT
	fi
	local profa=()
	[ -n "${PROFILE:-}" ] && mkdir -p "$PROFILE" && prof=(--cpuprofile "$PROFILE/$name-b.pprof") && profa=(--cpuprofile "$PROFILE/$name-a.pprof")
	ip netns exec $B "$bin" serve -c "$WORK/b.cfg" --socket "$WORK/b.sock" "${prof[@]}" 2>"$WORK/b-$name.log" & local pb=$!
	track $pb
	ip netns exec $A "$bin" serve -c "$WORK/a.cfg" --socket "$WORK/a.sock" "${profa[@]}" 2>"$WORK/a-$name.log" & local pa=$!
	track $pa
	# The first packets start IKE and are dropped until the SA is up.
	local up=0
	for _ in $(seq 30); do
		ip netns exec $A ping -c1 -W1 -I 198.19.1.1 198.19.2.1 >/dev/null 2>&1 && { up=1; break; }
		sleep 0.5
	done
	if [ $up = 0 ]; then
		echo "vpdn $name: no SA" >&2; cat "$WORK/a-$name.log" "$WORK/b-$name.log" >&2; echo 0
	else
		iperf_mbps $A 198.19.2.1 198.19.1.1
		ip netns exec $A "$bin" show crypto ipsec sa --socket "$WORK/a.sock" >"$WORK/sa-$name.txt" 2>&1 || true
		grep -q "UDP-Encaps" "$WORK/sa-$name.txt" && [ "$encap" = raw ] && echo "vpdn $name: UDP-encapsulated, expected raw ESP" >&2
		grep -q "UDP-Encaps" "$WORK/sa-$name.txt" || { [ "$encap" = udp ] && echo "vpdn $name: raw ESP, expected UDP-encapsulated" >&2; }
	fi
	stop_pids $pa $pb
	[ "$encap" = udp ] && ip netns exec $A nft delete table ip ipsbnat
	for _ in $(seq 40); do ip -n $A link show crypto0 >/dev/null 2>&1 || ip -n $B link show crypto0 >/dev/null 2>&1 || break; sleep 0.25; done
	return 0
}

declare -A V
for row in "gcm raw esp-gcm 128" "gcm udp esp-gcm 128" "cbc raw esp-aes 128 esp-sha-hmac" "cbc udp esp-aes 128 esp-sha-hmac"; do
	set -- $row; k="$1-$2"; e=$2; shift 2
	echo "== vpdn crypto maps, $* ($k)"
	V[$k]=$(vpdn_tunnel "$WORK/vpdn" "$*" "$e" "$k"); echo "vpdn $k: ${V[$k]} Mbit/s"
done
if [ -n "${BASELINE_BIN:-}" ]; then
	for e in raw udp; do
		echo "== baseline build, esp-gcm 128, $e"
		V[base-$e]=$(vpdn_tunnel "$BASELINE_BIN" "esp-gcm 128" "$e" "base-$e"); echo "baseline gcm-$e: ${V[base-$e]} Mbit/s"
	done
fi

echo "== strongSwan charon + kernel-libipsec at both ends, AES-GCM-128, UDP-encapsulated"
# charon_start NS SELF PEER LOCALNET REMOTENET: charon with a private
# strongswan.conf and vici socket (shared/INTEROP.md), its connection loaded.
charon_start() {
	local ns=$1 d="$WORK/swan-$1"
	mkdir -p "$d"
	local body="
  load_modular = no
  load = random nonce openssl aes sha1 sha2 hmac gmp kdf pem pkcs1 x509 pubkey kernel-libipsec kernel-netlink socket-default vici updown
  install_routes = no
  filelog { log { path = $d/charon.log
                  default = 1 } }
  plugins { vici { socket = unix://$d/vici } }
"
	printf 'charon-systemd {\n  journal { default = -1 }%s}\ncharon {%s}\n' "$body" "$body" >"$d/strongswan.conf"
	cat >"$d/swanctl.conf" <<CONF
connections {
  bench {
    version = 1
    encap = yes
    local_addrs = $2
    remote_addrs = $3
    proposals = aes128-sha1-modp2048
    local { auth = psk
            id = $2 }
    remote { auth = psk
             id = $3 }
    children {
      net {
        local_ts = $4
        remote_ts = $5
        esp_proposals = aes128gcm16
        mode = tunnel
      }
    }
  }
}
secrets {
  ike-bench {
    id-a = $2
    id-b = $3
    secret = "benchkey"
  }
}
CONF
	ip netns exec "$ns" env STRONGSWAN_CONF="$d/strongswan.conf" /usr/sbin/charon-systemd >/dev/null 2>&1 &
	track $!; SWAN_PIDS+=($!)
	for _ in $(seq 100); do [ -S "$d/vici" ] && break; sleep 0.1; done
	ip netns exec "$ns" swanctl --load-all --file "$d/swanctl.conf" --uri "unix://$d/vici" >/dev/null 2>&1
}
SWAN=0
if [ -x /usr/sbin/charon-systemd ]; then
	SWAN_PIDS=()
	charon_start $A 198.18.0.1 198.18.0.2 198.19.1.0/24 198.19.2.0/24
	charon_start $B 198.18.0.2 198.18.0.1 198.19.2.0/24 198.19.1.0/24
	ip netns exec $A timeout 30 swanctl --initiate --child net --timeout 20 --uri "unix://$WORK/swan-$A/vici" >/dev/null
	for _ in $(seq 50); do
		ip -n $A route replace 198.19.2.0/24 dev ipsec0 src 198.19.1.1 2>/dev/null &&
			ip -n $B route replace 198.19.1.0/24 dev ipsec0 src 198.19.2.1 2>/dev/null && break
		sleep 0.1
	done
	for _ in $(seq 20); do ip netns exec $A ping -c1 -W1 -I 198.19.1.1 198.19.2.1 >/dev/null 2>&1 && break; sleep 0.5; done
	SWAN=$(iperf_mbps $A 198.19.2.1 198.19.1.1); echo "strongSwan: $SWAN Mbit/s"
	stop_pids "${SWAN_PIDS[@]}"
	for _ in $(seq 40); do ip -n $A link show ipsec0 >/dev/null 2>&1 || ip -n $B link show ipsec0 >/dev/null 2>&1 || break; sleep 0.25; done
else
	echo "charon-systemd not installed: no strongSwan row"
fi

echo "== wireguard-go"
wireguard_go_up $A 198.18.0.1 198.19.200.1 $B 198.18.0.2 198.19.200.2 198.19.1.0/24 198.19.2.0/24
for _ in $(seq 20); do ip netns exec $A ping -c1 -W1 -I 198.19.1.1 198.19.2.1 >/dev/null 2>&1 && break; sleep 0.5; done
WG=$(iperf_mbps $A 198.19.2.1 198.19.1.1); echo "wireguard-go: $WG Mbit/s"
wireguard_go_down
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "== summary (single TCP stream, ${T}s each, same run; Mbit/s)"
echo "| path | Mbit/s | of wireguard-go | of strongSwan | of veth |"
echo "|---|---|---|---|---|"
row() { printf '| %s | %s | %s | %s | %s |\n' "$1" "$2" "$(ratio "$2" "$WG")" "$( [ "$SWAN" != 0 ] && ratio "$2" "$SWAN" || echo -)" "$(ratio "$2" "$VETH")"; }
row "underlay veth" "$VETH"
row "vpdn ESP AES-GCM-128, raw ESP" "${V[gcm-raw]}"
row "vpdn ESP AES-GCM-128, UDP-encapsulated" "${V[gcm-udp]}"
row "vpdn ESP AES-CBC-128 + HMAC-SHA1-96, raw ESP" "${V[cbc-raw]}"
row "vpdn ESP AES-CBC-128 + HMAC-SHA1-96, UDP-encapsulated" "${V[cbc-udp]}"
if [ -n "${BASELINE_BIN:-}" ]; then
	row "baseline build, AES-GCM-128, raw ESP" "${V[base-raw]}"
	row "baseline build, AES-GCM-128, UDP-encapsulated" "${V[base-udp]}"
fi
[ "$SWAN" != 0 ] && row "strongSwan kernel-libipsec, AES-GCM-128, UDP-encapsulated" "$SWAN"
row "wireguard-go" "$WG"
