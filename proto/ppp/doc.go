// Package ppp implements the PPP control plane (RFC 1661): the option
// negotiation automaton shared by LCP, IPCP, IPv6CP and CCP, and the
// authentication protocols. It is pure: frames and the clock are passed in.
package ppp
