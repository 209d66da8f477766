// Package daemon wires vpdn together: it builds the running system from a
// parsed configuration, serves the control socket and applies reloads.
// Only cmd/vpdn imports it.
package daemon
