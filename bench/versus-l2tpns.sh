#!/usr/bin/env bash
# Set-up rate and memory against l2tpns (issue "scale"): in ONE run, the
# same `vpdn bench` (T emulated LACs x S sessions, L2TP + LCP + CHAP +
# IPCP) first against l2tpns with FreeRADIUS beside it, then against
# `vpdn serve` in shared-interface mode (as bench/scale.sh), with the same
# parameters. Both LNSes authenticate through the same FreeRADIUS (the
# same process, its files module, CHAP): l2tpns as it must, vpdn with
# `aaa authentication ppp default group radius` (issue 12). Prints both
# JSON reports, the memory of each LNS and of FreeRADIUS during the hold,
# and the ratios vpdn / l2tpns.
#
#   sudo bash bench/versus-l2tpns.sh [TUNNELS] [SESSIONS_PER_TUNNEL] [IN_FLIGHT]
#   (default 10 100 256; IN_FLIGHT is vpdn bench --max-in-flight: with 256,
#   l2tpns's L2TP socket, which keeps the default 208 KiB receive buffer,
#   overflows and its tunnels stall for retransmissions; 64 does not)
#
# Environment: HOLD (default 20s), L2TPNS_DEBUG (default 1; 3 logs every
# session, 4-5 packet dumps), CAPTURE=FILE (tshark capture of the lab link
# during both runs), KEEP=1 (keep the work directory with the logs),
# L2TPNS_LINES (more "set ..." lines for l2tpns's startup-config; a later
# line overrides an earlier one), BENCH_ARGS (more vpdn bench flags, for
# both runs), RADIUS_DEBUG=1 (FreeRADIUS with -X, to compare), KEEPALIVE
# (LCP echo interval of both LNSes, default 10 s, the default of both:
# l2tpns echo_timeout, vpdn keepalive; past about 25,000 sessions the
# echo replies overflow l2tpns's L2TP socket during the set-up, and 120
# avoids it), VPDN_AUTH (radius, the default: vpdn asks FreeRADIUS; local:
# a `username` line, as the figures before issue 12).
#
# Root; namespaces only (vsl2-gen 198.18.0.1, vsl2-lns 198.18.0.2); pools in
# 198.19.0.0/16; every wait bounded; processes stopped by PID; namespaces
# and the work directory removed on exit.
#
# l2tpns 2.4.1 as Debian builds it: MAXSESSION 60000 and MAXTUNNEL 500
# (l2tpns.h, no -D overrides in debian/rules), so at most 59,999 sessions
# and 499 tunnels; MAXRADIUS 16384 RADIUS requests in flight.
set -u
T=${1:-10} S=${2:-100} INFLIGHT=${3:-256}
HOLD=${HOLD:-20s}
KEEPALIVE=${KEEPALIVE:-10}
L2TPNS_DEBUG=${L2TPNS_DEBUG:-1}
VPDN_AUTH=${VPDN_AUTH:-radius}
N=$((T * S))
A=vsl2-gen B=vsl2-lns
W=$(mktemp -d /tmp/versus-l2tpns.XXXXXX)
chmod 755 "$W"
PIDS=()

stop_pid() { # PID [SECONDS]: TERM, then KILL after SECONDS (default 10)
	local p=$1 i
	kill "$p" 2>/dev/null || return 0
	for ((i = 0; i < ${2:-10} * 10; i++)); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
	kill -9 "$p" 2>/dev/null
}
cleanup() {
	local p
	for p in "${PIDS[@]}"; do stop_pid "$p" 3; done
	ip netns del $A 2>/dev/null; ip netns del $B 2>/dev/null
	if [ "${KEEP:-0}" = 1 ]; then echo "work directory kept: $W" >&2; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM # so that the EXIT trap cleans up
die() { echo "versus-l2tpns: $*" >&2; exit 1; }
for c in l2tpns freeradius unshare ss python3 go; do command -v $c >/dev/null || die "$c not found"; done

cd "$(dirname "$0")/.." && go build -o $W/vpdn ./cmd/vpdn || die "build failed"
ip netns add $A && ip netns add $B || die "cannot create namespaces (root?)"
ip -n $A link set lo up; ip -n $B link set lo up
ip link add va netns $A type veth peer name vb netns $B
ip -n $A addr add 198.18.0.1/24 dev va; ip -n $B addr add 198.18.0.2/24 dev vb
ip -n $A link set va up; ip -n $B link set vb up

if [ -n "${CAPTURE:-}" ]; then
	ip netns exec $A timeout 900 tshark -q -i va -s 256 -w "$W/capture.pcapng" 2>/dev/null & PIDS+=($!)
	sleep 2
fi

# Memory of a process tree: "RSS_KB PSS_KB" summed over PID and its
# children. RSS counts every resident page of each process, shared ones
# included (l2tpns keeps its session, tunnel and RADIUS tables in shared
# mappings it allocates at start); PSS divides shared pages among the
# processes that map them.
mem() {
	local p rss=0 pss=0 r s
	for p in $1 $(pgrep -P "$1"); do
		r=$(awk '/^Rss:/{print $2}' /proc/$p/smaps_rollup 2>/dev/null || echo 0)
		s=$(awk '/^Pss:/{print $2}' /proc/$p/smaps_rollup 2>/dev/null || echo 0)
		rss=$((rss + ${r:-0})) pss=$((pss + ${s:-0}))
	done
	echo "$rss $pss"
}

# bench NAME LNSPID: runs vpdn bench against 198.18.0.2; samples the LNS's
# memory before and once every session is up or failed (during the hold).
bench() {
	local name=$1 pid=$2 bp line i
	read -r rss0 pss0 < <(mem "$pid")
	ip netns exec $A timeout 600 $W/vpdn bench --server 198.18.0.2 --tunnels $T --sessions $S \
		--user labuser --password labpass --auth chap --max-in-flight $INFLIGHT --hold "$HOLD" --json ${BENCH_ARGS:-} \
		>"$W/$name.json" 2>"$W/$name.err" &
	bp=$!
	# The progress line says when the set-up phase is over:
	# "  12s  established 990  failed 10  in flight 0".
	for ((i = 0; i < 6000; i++)); do
		sleep 0.1
		kill -0 $bp 2>/dev/null || break
		line=$(grep established "$W/$name.err" 2>/dev/null | tail -1)
		set -- $line
		[ $# -ge 5 ] && [ $(($3 + $5)) -ge $N ] && break
	done
	sleep 2
	read -r rss1 pss1 < <(mem "$pid")
	wait $bp
	printf '%s %s %s %s\n' "$rss0" "$pss0" "$rss1" "$pss1" >"$W/$name.mem"
	# Datagrams the LNS's sockets dropped for a full receive buffer (ss
	# d), a cause of L2TP retransmissions: l2tpns keeps the default
	# buffer (rmem_default, 208 KiB here), vpdn asks for 4 MiB.
	ip netns exec $B ss -Huanmp | paste - - | awk '{d=$0; sub(/.*,d/, "", d); sub(/\).*/, "", d); if (d > 0) print $4, $6, d}' |
		sed "s/^/$name: receive-buffer drops at /" >&2
}

# --- l2tpns + FreeRADIUS -------------------------------------------------
R=$W/raddb
cp -a /etc/freeradius/3.0 $R
sed -i -e "s|^raddbdir = .*|raddbdir = $R|" -e "s|^logdir = .*|logdir = $W/radlog|" \
	-e "s|^run_dir = .*|run_dir = $W/radrun|" -e 's/^\(\s*\)\(user\|group\) = freerad$/\1#\2 = freerad/' $R/radiusd.conf
mkdir -p $W/radlog $W/radrun
# The user goes first: the packaged DEFAULT Framed-Protocol == PPP entry
# has no Fall-Through and would end the lookup for a NAS that sends
# Framed-Protocol (vpdn does).
sed -i '1i labuser Cleartext-Password := "labpass"' $R/mods-config/files/authorize
# A Message-Authenticator in every Access-Accept and Access-Reject (RFC
# 3579 §3.2), which vpdn requires (BlastRADIUS, CVE-2024-3596): the
# packaged 3.2.1 signs only EAP answers. l2tpns ignores it.
sed -i -e 's/^post-auth {$/post-auth {\n\tupdate reply {\n\t\t\&Message-Authenticator := 0x00\n\t}/' \
	-e 's/^\tPost-Auth-Type REJECT {$/\tPost-Auth-Type REJECT {\n\tupdate reply {\n\t\t\&Message-Authenticator := 0x00\n\t}/' \
	$R/sites-enabled/default
# Non-debug mode (-f: foreground, threads on): -X is single-threaded and
# prints every request, which made it the bottleneck of a first try.
RADMODE=-f
[ "${RADIUS_DEBUG:-0}" = 1 ] && RADMODE=-X
ip netns exec $B freeradius $RADMODE -d $R -l $W/radius.log & RADPID=$!; PIDS+=($RADPID)
for ((i = 0; i < 200; i++)); do
	ip netns exec $B ss -Hlun 'sport = :1812' | grep -q . && break
	kill -0 $RADPID 2>/dev/null || die "freeradius exited: $(tail -5 $W/radius.log)"
	sleep 0.1
done

E=$W/l2tpns-etc
mkdir -p $E $W/l2tpns-state
cat >$E/startup-config <<CFG
set debug $L2TPNS_DEBUG
set log_file "$W/l2tpns.log"
set pid_file "$W/l2tpns.pid"
set l2tp_secret "secret"
set primary_radius 127.0.0.1
set radius_secret "testing123"
set radius_authtypes "chap"
set radius_accounting no
set allow_duplicate_users yes
set bind_address 198.18.0.2
set cli_bind_address 127.0.0.1
set peer_address 198.19.0.1
set tundevicename "l2tpns0"
set cluster_interface "lo"
set cluster_hb_timeout 20
set echo_timeout $KEEPALIVE
set idle_echo_timeout 240
${L2TPNS_LINES:-}
CFG
# Pool: 198.19.64.0/18 (16,384 addresses; l2tpns skips .0 and .255, so
# 16,256), or 198.19.32.0 to 198.19.255.255 (56,896) beyond 16,000
# sessions; vpdn gets the same ranges.
if [ $N -le 16000 ]; then
	printf '198.19.64.0/18\n' >$E/ip_pool
	VPOOL="198.19.64.1 198.19.127.254"
else
	printf '198.19.32.0/19\n198.19.64.0/18\n198.19.128.0/17\n' >$E/ip_pool
	VPOOL="198.19.32.1 198.19.255.254"
fi
echo admin:admin >$E/users
chmod 600 $E/users
# setsid: l2tpns ends with kill(0, SIGTERM), which would hit this script
# in the same process group.
ip netns exec $B setsid unshare -m --propagation private sh -c \
	"mount --bind $E /etc/l2tpns && { [ ! -d /var/lib/l2tpns ] || mount --bind $W/l2tpns-state /var/lib/l2tpns; } && exec l2tpns -c $E/startup-config" \
	>$W/l2tpns.out 2>&1 & L2PID=$!; PIDS+=($L2PID)
for ((i = 0; i < 300; i++)); do
	grep -q 'I am declaring myself the master' $W/l2tpns.log 2>/dev/null &&
		ip netns exec $B ss -Hlun 'sport = :1701' | grep -q . && break
	kill -0 $L2PID 2>/dev/null || die "l2tpns exited: $(tail -5 $W/l2tpns.log $W/l2tpns.out)"
	sleep 0.1
done
echo "l2tpns up (pid $L2PID), running vpdn bench $T x $S, $INFLIGHT in flight ..." >&2
bench l2tpns $L2PID
read -r RADRSS RADPSS < <(mem $RADPID)
stop_pid $L2PID 10

# --- vpdn serve --------------------------------------------------------------
# FreeRADIUS stays up (the same process l2tpns used) when vpdn asks it.
if [ "$VPDN_AUTH" = radius ]; then
	AUTHCFG="aaa new-model
aaa authentication ppp default group radius
aaa authorization network default group radius
radius server FREERADIUS
 address ipv4 127.0.0.1 auth-port 1812 acct-port 1813
 key 0 testing123"
else
	stop_pid $RADPID 5
	AUTHCFG="username labuser password 0 labpass"
fi
cat >$W/lns.cfg <<CFG
hostname LNS
$AUTHCFG
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
 keepalive $KEEPALIVE
ip local pool P $VPOOL
CFG
ip netns exec $B $W/vpdn serve -c $W/lns.cfg --socket $W/vpdn.sock --log-level error 2>$W/vpdn.log & VPID=$!; PIDS+=($VPID)
for ((i = 0; i < 100; i++)); do
	ip netns exec $B ss -Hlun 'sport = :1701' | grep -q . && break
	kill -0 $VPID 2>/dev/null || die "vpdn serve exited: $(tail -5 $W/vpdn.log)"
	sleep 0.1
done
echo "vpdn serve up (pid $VPID), running vpdn bench $T x $S, $INFLIGHT in flight ..." >&2
bench vpdn $VPID
VRADRSS=0 VRADPSS=0
if [ "$VPDN_AUTH" = radius ]; then
	read -r VRADRSS VRADPSS < <(mem $RADPID)
fi
stop_pid $VPID 10
stop_pid $RADPID 5

[ -n "${CAPTURE:-}" ] && { stop_pid "${PIDS[0]}" 5; cp "$W/capture.pcapng" "$CAPTURE"; }

# --- report ------------------------------------------------------------------
echo "l2tpns: $(cat $W/l2tpns.json)"
echo "vpdn:   $(cat $W/vpdn.json)"
python3 - "$W" "$RADRSS" "$RADPSS" "$VRADRSS" "$VRADPSS" "$VPDN_AUTH" <<'PY'
import json, sys
w, radrss, radpss = sys.argv[1], int(sys.argv[2] or 0), int(sys.argv[3] or 0)
vradrss, vradpss, vauth = int(sys.argv[4] or 0), int(sys.argv[5] or 0), sys.argv[6]
r = {}
for n in ("l2tpns", "vpdn"):
    try:
        r[n] = json.load(open(f"{w}/{n}.json"))
    except Exception as e:
        sys.exit(f"versus-l2tpns: no report from {n}: {e}")
    rss0, pss0, rss1, pss1 = map(int, open(f"{w}/{n}.mem").read().split())
    e = max(1, r[n]["established"])
    r[n].update(rss0=rss0, pss0=pss0, rss1=rss1, pss1=pss1,
                rss_per=rss1 * 1024 / e, pss_per=pss1 * 1024 / e,
                drss_per=(rss1 - rss0) * 1024 / e)
l, v = r["l2tpns"], r["vpdn"]
print("\n%-28s %14s %14s %10s" % ("", "l2tpns", "vpdn", "vpdn/l2tpns"))
def row(name, key, fmt="%14.1f"):
    a, b = l[key], v[key]
    print(("%-28s " + fmt + " " + fmt + " %10s") % (name, a, b, "%.2f" % (b / a) if a else "-"))
row("established", "established", "%14d")
row("setup rate (sessions/s)", "setup_rate_per_s")
row("p50 (ms)", "p50_ms")
row("p99 (ms)", "p99_ms")
row("RSS during hold (KiB)", "rss1", "%14d")
row("PSS during hold (KiB)", "pss1", "%14d")
row("RSS / session (bytes)", "rss_per")
row("PSS / session (bytes)", "pss_per")
row("RSS growth / session (B)", "drss_per")
print("\nRSS counts shared pages (l2tpns maps its session, tunnel and RADIUS tables "
      "shared at start; they are resident from the start, so its growth per session is small);\n"
      "PSS divides them among the processes mapping them. FreeRADIUS beside l2tpns "
      "(not in the figures above): RSS %d KiB, PSS %d KiB." % (radrss, radpss))
print("vpdn authenticated through %s." % ("FreeRADIUS" if vauth == "radius" else "its local username database"))
if vauth == "radius":
    print("FreeRADIUS beside vpdn (same process, during vpdn's hold): RSS %d KiB, PSS %d KiB." % (vradrss, vradpss))
    lt = (l["rss1"] + radrss) * 1024 / max(1, l["established"])
    vt = (v["rss1"] + vradrss) * 1024 / max(1, v["established"])
    print("%-28s %14.1f %14.1f %10s" % ("RSS+FreeRADIUS / session (B)", lt, vt, "%.2f" % (vt / lt) if lt else "-"))
PY
for n in l2tpns vpdn; do tail -2 $W/$n.err | sed "s/^/$n bench: /" >&2; done
