// Package mppe is Microsoft Point-to-Point Encryption (RFC 3078) with the
// key changes of RFC 3078 §7 and RFC 3079: the session-key primitives, the
// two-octet MPPE header, the CCP option that negotiates it (CCP option 18)
// and the RC4 cipher of one direction, stateful or stateless, without
// allocating per packet.
//
// An MPPE packet is PPP protocol 0x00FD; its information field is
//
//	 0                   1                   2
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|A|B|C|D|    Coherency Count    | Encrypted ...
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// where the encrypted data is the PPP protocol field and information of
// the packet carried (RFC 3078 §3).
//
// The CCP negotiation, Reset-Request and Reset-Ack belong to the PPP
// engine: a Decrypter tells it when to send a Reset-Request (ErrResync),
// and the engine tells the Encrypter when one arrives (ResetRequested).
//
// The package does no I/O, starts no goroutines and does not log.
package mppe
