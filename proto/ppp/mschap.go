package ppp

import (
	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/aaa/mschap"
)

// Peer-side (authenticatee) computations of the CHAP family. The crypto is
// aaa/mschap's (with its RFC 2433, 2759 and 3079 known answers); these are
// the shapes the link uses. The verifier side lives with the AAA backends.

// chapMD5Response is the CHAP-MD5 Response Value, RFC 1994 §2:
// MD5(Identifier | secret | Challenge).
func chapMD5Response(id uint8, secret string, challenge []byte) []byte {
	r := aaa.CHAPResponse(id, secret, challenge)
	return r[:]
}

// ntPasswordHash is NtPasswordHash of RFC 2433 §A.5.
func ntPasswordHash(password string) [16]byte {
	return [16]byte(mschap.NTPasswordHash(password))
}

// mschapv1NTResponse is the NT-Response of an MS-CHAPv1 Response,
// RFC 2433 §A.2 NtChallengeResponse. The caller has checked that the
// challenge is 8 octets.
func mschapv1NTResponse(challenge []byte, password string) [24]byte {
	return mschap.ChallengeResponse([8]byte(challenge), mschap.NTPasswordHash(password))
}

// mschapv2Response computes the NT-Response of RFC 2759 §8.1 and the
// authenticator response the peer must send back in Success (§8.7). The
// user name is hashed without its Windows domain (§8.2).
func mschapv2Response(authChallenge, peerChallenge []byte, username, password string) (nt []byte, authResp string, err error) {
	h := mschap.NTPasswordHash(password)
	r, err := mschap.GenerateNTResponse(authChallenge, peerChallenge, username, h)
	if err != nil {
		return nil, "", err
	}
	authResp, err = mschap.AuthenticatorResponse(h.Hash(), r[:], peerChallenge, authChallenge, username)
	return r[:], authResp, err
}

// mppeClientKeys derives this end's MPPE master session keys as the MS-CHAPv2
// client (RFC 3079 §3.3-3.4, 128-bit): the server's send key is the
// client's receive key and the other way round.
func mppeClientKeys(password string, ntResponse []byte) (*MPPEKeys, error) {
	send, recv, err := mschap.V2Keys(mschap.NTPasswordHash(password), ntResponse)
	if err != nil {
		return nil, err
	}
	return &MPPEKeys{Send: recv, Recv: send}, nil
}
