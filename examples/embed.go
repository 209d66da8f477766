// Package examples holds the example configurations the README uses. The
// two of vpdn lab are compiled into the binary, so that the lab runs from
// any directory, not only from the repository's root.
package examples

import "embed"

// Lab holds lab-lns.cfg (the head-office LNS) and lab-client.cfg (the
// remote client), the configurations vpdn lab starts its two daemons with.
//
//go:embed lab-*.cfg
var Lab embed.FS
