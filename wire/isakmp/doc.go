// Package isakmp holds the ISAKMP (RFC 2408) wire codec as IKEv1 (RFC 2409)
// and the IPsec DOI (RFC 2407) use it: the fixed header, the generic
// payload chain, SA / Proposal / Transform payloads with their data
// attributes, KE, Nonce, ID, HASH, SIG, CERT, CR, Notification, Delete,
// Vendor ID, NAT-D (RFC 3947) and the attribute payload of mode-config and
// XAuth (draft-dukes-ike-mode-cfg, draft-beaulieu-ike-xauth).
//
// Decoding is done by iterators with a sticky error over a buffer the
// caller owns: every value aliases that buffer, every length is checked
// before it is used, and every chain is bounded. Encoding appends to a
// caller's slice. The package does no I/O, starts no goroutines and does
// not log.
//
//	                     1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	!                          Initiator                            !
//	!                            Cookie                             !
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	!                          Responder                            !
//	!                            Cookie                             !
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	!  Next Payload ! MjVer ! MnVer ! Exchange Type !     Flags     !
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	!                          Message ID                           !
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	!                            Length                             !
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// (RFC 2408 §3.1.)
package isakmp
