// Package ppp holds the PPP (RFC 1661) wire codecs: frames, HDLC-like
// framing (RFC 1662), and the packets of LCP, IPCP, IPv6CP, PAP, CHAP and
// EAP. It does no I/O, starts no goroutines and does not log.
package ppp
