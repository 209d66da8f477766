// Package esp is the IP Encapsulating Security Payload (RFC 4303) of one
// security association in one direction: a Sealer turns a payload and its
// next-header value into an ESP packet, an Opener checks and opens one,
// with the anti-replay window of RFC 4303 §3.4.3 kept as the bitmap of
// RFC 6479 and the extended sequence numbers of RFC 4303 §2.2.1 and
// Appendix A.
//
// An ESP packet (RFC 4303 §2) is
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|               Security Parameters Index (SPI)                 |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                      Sequence Number                          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                IV (8 or 16 octets, none for NULL)             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+  ^
//	|                    Payload Data (variable)                    |  |
//	~                                                               ~  | encrypted
//	+               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+  |
//	|               |     Padding (0-255 octets: 1, 2, 3, ...)      |  |
//	+-+-+-+-+-+-+-+-+               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+  |
//	|                               |  Pad Length   | Next Header   |  v
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         Integrity Check Value (8, 12 or 16 octets)            |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The suites are AES-GCM with an 8, 12 or 16-octet ICV (RFC 4106), AES-CBC
// (RFC 3602) and 3DES-CBC (RFC 2451) with HMAC-SHA1-96 (RFC 2404),
// HMAC-SHA2-256-128 (RFC 4868) or HMAC-MD5-96 (RFC 2403), and NULL
// encryption (RFC 2410) with one of those HMACs. Keys are the raw octet
// strings IKE's KEYMAT yields (RFC 2409 §5.5): the encryption key followed
// by the 4-octet salt for AES-GCM (RFC 4106 §8.1), the encryption key and
// a separate integrity key for the others.
//
// Payloads are IP packets (tunnel mode, next header 4) or transport-layer
// segments (transport mode, RFC 4303 §3.1.1); IPv4 transport mode, the
// UDP encapsulation of RFC 3948 and its port-4500 demultiplexing have
// helpers here. Every drop has its own error and its own counter, named as
// `show crypto ipsec sa` names them.
//
// Seal and Open do not allocate; the package does no I/O, starts no
// goroutines and does not log.
package esp
