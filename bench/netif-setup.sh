#!/usr/bin/env bash
# Per-interface set-up rate (netif): creates N TUNs in a namespace of its
# own the way a session's Virtual-Access interface is made (create with
# offloads, MTU, peer address, up), reports each step's time as the count
# grows and the rate of closing them, for each mode asked for:
#
#   default  one netlink socket, indexes remembered, IPv6 disabled on the new device (what netif does)
#   gennone  the same with only IPv6 address generation off (/proc/sys read-only)
#   v6on     the same with the kernel's IPv6 defaults
#   fresh    a socket and a name lookup per request, IPv6 defaults (the old request pattern)
#
#   sudo bash bench/netif-setup.sh [N] [MODES...]        (default 10000 default)
#
# Root; bounded (go test -timeout); the namespace and every TUN go with the
# test process. CLOSERS sets how many goroutines close the TUNs (16).
# Note: with IPv6 on, setting up and tearing down 10,000 interfaces take
# several minutes each (the cost grows with the count).
N=${1:-10000}; shift
MODES=${*:-default}
cd "$(dirname "$0")/.." || exit 1
for m in $MODES; do
	VPDN_SETUP_SCALE=$N VPDN_SETUP_MODE=$m VPDN_SETUP_CLOSERS=${CLOSERS:-16} \
		go test ./netif -run '^TestSetupScale$' -count=1 -v -timeout 60m | grep -v -e '^=== RUN' -e '^PASS' -e '^ok'
done
