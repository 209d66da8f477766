#!/usr/bin/env bash
# Control-packet loss (issue 13): vpdn bench, T tunnels x S sessions
# (default 10 x 100), against one vpdn serve, first loss-free, then with
# LOSS % (default 30) of the L2TP control messages arriving at the LNS
# dropped by nftables inside the LNS's namespace: UDP port 1701 with the
# T bit set (RFC 2661 §3.1: the first bit of the L2TP header, 1 for a
# control message; data messages, so PPP, pass). The drop is on the LNS's
# input, so it hits the LAC's messages and its acknowledgements of the
# LNS's own: each direction's messages need retransmitting 30 % of the
# time. Prints both reports and the p50/p99 set-up times side by side.
# Root; namespaces of 198.18.0.0/15 only; bounded (timeout per run).
#
#   sudo bash bench/loss.sh [TUNNELS] [SESSIONS_PER_TUNNEL] [LOSS_PERCENT]   (default 10 100 30)
T=${1:-10} S=${2:-100} LOSS=${3:-30}
A=vpdnloss-a B=vpdnloss-b
. "$(dirname "$0")/lib.sh"
setup_pair
start_lns
# run NAME: one vpdn bench; the set-up timeout is long enough for a call
# whose messages are lost several times in a row (§5.8 back-off 1, 2, 4,
# 8, 8 s).
run() {
	ip netns exec $A timeout 900 $W/bench bench --server 198.18.0.2 --tunnels $T --sessions $S --user u --password p \
		--timeout ${SETUP_TIMEOUT:-300s} --json 2>/dev/null > $W/$1.json
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sys.argv[2], json.dumps(d))' $W/$1.json "$1"
	sleep 35 # the closed tunnels' §5.7 hold ends before the next run
}
run loss-free
ip netns exec $B nft -f - <<NFT
table inet vpdnloss {
	chain input {
		type filter hook input priority filter; policy accept;
		udp dport 1701 @th,64,1 1 numgen random mod 100 < $LOSS counter drop
	}
}
NFT
run "loss-$LOSS"
dropped=$(ip netns exec $B nft list table inet vpdnloss | awk '/counter/{for(i=1;i<=NF;i++) if($i=="packets") print $(i+1)}')
ip netns exec $B nft delete table inet vpdnloss
python3 - "$W/loss-free.json" "$W/loss-$LOSS.json" "$LOSS" "$dropped" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
print("%-10s %12s %7s %9s %9s %9s %10s" % ("run", "established", "failed", "p50_ms", "p99_ms", "max_ms", "rate/s"))
for name, d in (("loss-free", a), (sys.argv[3] + " % loss", b)):
    print("%-10s %8d/%-4d %6d %9.1f %9.1f %9.1f %10.1f %s" % (name, d["established"], d["sessions"], d["failed"],
          d["p50_ms"], d["p99_ms"], d["max_ms"], d["setup_rate_per_s"], d["failures_by_reason"] or ""))
print("control messages dropped at the LNS: %s" % sys.argv[4])
PY
