package l2tp

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/subtle"
	"errors"
	"hash"
)

// Control message authentication, RFC 3931 §4.3 and §5.4.1.
//
// The shared secret of the two LCCEs is not used directly: the key is
//
//	shared_key = HMAC_MD5(shared_secret, 0x02)
//
// and the Message Digest AVP of every message but the SCCRQ carries
//
//	HMAC_Hash(shared_key, local_nonce + remote_nonce + control_message)
//
// where local_nonce is the sender's own Control Message Authentication
// Nonce and remote_nonce the one it received (a receiver checks with the
// two reversed), and control_message the whole message from the first
// octet of the control header (over IP: after the zero Session ID), with
// the digest octets of every Message Digest AVP set to zero. The SCCRQ
// carries HMAC_Hash(shared_key, control_message): only one nonce exists
// yet and it is inside the message. The Message Digest AVP is the second
// AVP, right after Message Type (8 octets), so it sits at a fixed offset.

// ErrDigest is a control message whose Message Digest does not verify.
var ErrDigest = errors.New("l2tp: message digest mismatch")

// ErrNoDigest is a control message without the Message Digest AVP right
// after Message Type, where §5.4.1 requires it.
var ErrNoDigest = errors.New("l2tp: no message digest after the message type")

// V3SharedKey derives §5.4.1's shared_key from the configured secret.
func V3SharedKey(secret []byte) []byte {
	m := hmac.New(md5.New, secret)
	m.Write([]byte{2})
	return m.Sum(nil)
}

// DigestLen is the length of a digest of type t (§5.4.1), 0 if unknown.
func DigestLen(t uint8) int {
	switch t {
	case DigestHMACMD5:
		return md5.Size
	case DigestHMACSHA1:
		return sha1.Size
	}
	return 0
}

func digestHash(t uint8) func() hash.Hash {
	if t == DigestHMACSHA1 {
		return sha1.New
	}
	return md5.New
}

// V3Digest computes HMAC_Hash(key, nonces... + ctl) with the hash of
// digest type t; ctl must have its digest octets zeroed.
func V3Digest(t uint8, key []byte, ctl []byte, nonces ...[]byte) []byte {
	m := hmac.New(digestHash(t), key)
	for _, n := range nonces {
		m.Write(n)
	}
	m.Write(ctl)
	return m.Sum(nil)
}

// v3ControlStart is where control_message begins in an encoded datagram.
func v3ControlStart(overUDP bool) int {
	if overUDP {
		return 0
	}
	return V3IPControlPrefix
}

// digestAVPs returns the offsets of the value (the Digest Type octet) of
// the one or two Message Digest AVPs that follow Message Type.
func digestAVPs(msg []byte, overUDP bool) (offs [2]int, n int) {
	off := v3ControlStart(overUDP) + V3ControlHeaderLen + 8 // after Message Type
	for n < 2 && off+AVPHeaderLen+1 <= len(msg) {
		a := msg[off:]
		l := int(a[0]&0x03)<<8 | int(a[1])
		if a[2] != 0 || a[3] != 0 || a[4] != 0 || a[5] != byte(AVPMessageDigest) || off+l > len(msg) {
			break
		}
		dl := DigestLen(a[6])
		if dl == 0 || l != AVPHeaderLen+1+dl {
			break
		}
		offs[n] = off + AVPHeaderLen
		n++
		off += l
	}
	return offs, n
}

// SealV3 writes the Message Digest of an encoded control message msg
// (as AppendV3ControlHeader and V3Message.AppendAVPs made it, Length
// final, Ns and Nr final): the first Message Digest AVP gets
// HMAC(key, nonces + control_message). The digest type is the one the
// AVP was encoded with.
func SealV3(msg []byte, overUDP bool, key []byte, nonces ...[]byte) error {
	offs, n := digestAVPs(msg, overUDP)
	if n == 0 {
		return ErrNoDigest
	}
	for i := range n {
		clear(msg[offs[i]+1 : offs[i]+1+DigestLen(msg[offs[i]])])
	}
	o := offs[0]
	d := V3Digest(msg[o], key, msg[v3ControlStart(overUDP):], nonces...)
	copy(msg[o+1:], d)
	return nil
}

// VerifyV3 checks the Message Digest of a received control message with
// key and the nonces in the order the receiver uses (the peer's nonce,
// then ours; none for an SCCRQ). §5.4.1: with two Message Digest AVPs,
// either may verify. msg is restored before VerifyV3 returns.
func VerifyV3(msg []byte, overUDP bool, key []byte, nonces ...[]byte) error {
	offs, n := digestAVPs(msg, overUDP)
	if n == 0 {
		return ErrNoDigest
	}
	var saved [2][sha1.Size]byte
	for i := range n {
		o := offs[i]
		dl := DigestLen(msg[o])
		copy(saved[i][:], msg[o+1:o+1+dl])
		clear(msg[o+1 : o+1+dl])
	}
	ok := false
	for i := range n {
		o := offs[i]
		dl := DigestLen(msg[o])
		d := V3Digest(msg[o], key, msg[v3ControlStart(overUDP):], nonces...)
		if subtle.ConstantTimeCompare(d, saved[i][:dl]) == 1 {
			ok = true
		}
	}
	for i := range n {
		o := offs[i]
		copy(msg[o+1:], saved[i][:DigestLen(msg[o])])
	}
	if !ok {
		return ErrDigest
	}
	return nil
}
