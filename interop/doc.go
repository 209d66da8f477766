// Package interop holds vpdn's interoperability tests against real
// implementations from Debian (xl2tpd, l2tpns with FreeRADIUS, SoftEther,
// pptpd and pptp-linux with vpdn's PPP engine standing in for pppd,
// strongSwan's charon for IKEv1), run
// in network namespaces with tshark checking every packet vpdn sends.
// It has no code outside its tests.
package interop
