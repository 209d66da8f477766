#!/usr/bin/env bash
# Resident memory per open TUN (netif): N TUNs in a namespace of their
# own, one packet read from each, with a Poller (2 workers) and with a
# goroutine and a 64 KiB buffer per TUN (as dataplane.RunDevice reads);
# each mode in its own process.
#
#   sudo bash bench/netif-rss.sh [N]        (default 10000)
#
# Root; bounded (go test -timeout); the namespace goes with the test.
N=${1:-10000}
cd "$(dirname "$0")/.." || exit 1
for m in poller goroutine; do
	VPDN_RSS_TUNS=$N VPDN_RSS_MODE=$m go test ./netif -run '^TestRSSPerTUN$' -count=1 -v -timeout 30m | grep -e 'mode ' -e FAIL
done
