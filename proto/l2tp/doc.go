// Package l2tp implements the L2TP control plane (RFC 2661): reliable
// delivery of control messages, the tunnel and session state machines. It
// is pure: the network and the clock are passed in.
package l2tp
