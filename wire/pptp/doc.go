// Package pptp holds the PPTP (RFC 2637) wire codecs: the control
// messages carried over TCP port 1723 (§2, §1.4) and the enhanced GRE
// header that carries PPP frames (§4.1). It does no I/O, starts no
// goroutines and does not log.
//
// # Control messages
//
// Every control message of §2 has its own struct (SCCRQ, SCCRP, StopCCRQ,
// StopCCRP, EchoRequest, EchoReply, OCRQ, OCRP, ICRQ, ICRP, ICCN, CCRQ,
// CDN, WEN, SLI) behind the Message interface. Parse decodes one whole
// message and Append encodes one. Split and ScanMessages take whole
// messages off the TCP byte stream.
//
// Choices where the RFC leaves room, made for a robust receiver:
//
//   - Reserved fields (Reserved0 of the header and every ReservedN of a
//     body) "MUST be 0" on send; Append writes zeros and Parse ignores
//     their value on receipt. §2.16 lets a receiver answer a non-zero
//     reserved field with Bad-Value, but Microsoft's PPTP profile (MS-PTPT
//     §2.2) says reserved bits MUST be ignored on receipt, and a peer that
//     sets them is not worth a failed call.
//   - The Length field must equal the fixed length of the message type
//     (§2): a PPTP message has no optional parts, so any other value means
//     a broken peer or a lost framing, and is an error that names both.
//   - The PPTP Message Type must be 1 (control). Type 2 (management) is
//     defined but unused (§1.4) and is an error.
//   - Text fields (host name, vendor, phone numbers, subaddress, call
//     statistics) are fixed-size and NUL-padded (§2.1). Parse takes the
//     octets up to the first NUL, or the whole field when it has none, and
//     does not judge the octets: they are returned as received, so
//     whoever prints them must quote them (%q). Append writes a string of
//     at most the field's size (the RFC pads a shorter name and allows a
//     full one) and returns an error for a longer one or one containing a
//     NUL; it never truncates silently.
//   - The phone number length fields of OCRQ and ICRQ (§2.7, §2.9) are
//     written as the number's length; on receipt they are not trusted
//     (implementations disagree on whether they are set), the NUL-padded
//     field delimits the number.
//   - Result, error and cause codes outside the RFC's tables are kept as
//     received; their String methods print the number.
//
// # Enhanced GRE
//
// ParseGRE and AppendGRE handle the §4.1 header: version 1, protocol type
// 0x880B, the key as payload length and call ID, optional sequence and
// acknowledgement numbers. Neither allocates (AppendGRE given room in b). A Payload Length
// longer than the packet is an error; a shorter one trims the payload
// (trailing octets are padding, as Length is authoritative). A packet
// that carries payload without a sequence number is an error: §4.1 sets S
// exactly when a payload is present.
package pptp
