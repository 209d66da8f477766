// Package l2tp holds the L2TP (RFC 2661, RFC 3931) wire codecs: headers,
// control messages and AVPs. It does no I/O, starts no goroutines and does
// not log.
package l2tp
