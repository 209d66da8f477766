package ppp

import (
	"crypto/des"
	"crypto/md5"
	"strings"
	"unicode/utf16"

	"golang.org/x/crypto/md4" //nolint:staticcheck // MS-CHAP is defined on MD4
	"layeh.com/radius/rfc2759"
	"layeh.com/radius/rfc3079"
)

// Peer-side (authenticatee) computations of the CHAP family. The verifier
// side lives with the AAA backends.

// chapMD5Response is the CHAP-MD5 Response Value, RFC 1994 §2:
// MD5(Identifier | secret | Challenge).
func chapMD5Response(id uint8, secret string, challenge []byte) []byte {
	h := md5.New()
	h.Write([]byte{id})
	h.Write([]byte(secret))
	h.Write(challenge)
	return h.Sum(nil)
}

// ntPasswordHash is NtPasswordHash of RFC 2433 §A.5: MD4 of the password
// in UTF-16LE ("Unicode").
func ntPasswordHash(password string) [16]byte {
	u := utf16.Encode([]rune(password))
	b := make([]byte, 0, 2*len(u))
	for _, c := range u {
		b = append(b, byte(c), byte(c>>8))
	}
	h := md4.New()
	h.Write(b)
	var out [16]byte
	copy(out[:], h.Sum(nil))
	return out
}

// desKey spreads 7 octets over the 8 of a DES key, leaving the parity bits
// (ignored by DES) clear: RFC 2433 §A.7, MakeKey / the key expansion of
// DesEncrypt.
func desKey(k []byte) []byte {
	return []byte{
		k[0] & 0xfe,
		(k[0]<<7 | k[1]>>1) & 0xfe,
		(k[1]<<6 | k[2]>>2) & 0xfe,
		(k[2]<<5 | k[3]>>3) & 0xfe,
		(k[3]<<4 | k[4]>>4) & 0xfe,
		(k[4]<<3 | k[5]>>5) & 0xfe,
		(k[5]<<2 | k[6]>>6) & 0xfe,
		k[6] << 1,
	}
}

// challengeResponse is ChallengeResponse of RFC 2433 §A.5: the 8-octet
// challenge DES-encrypted under three keys cut from the zero-padded
// 21-octet password hash.
func challengeResponse(challenge []byte, hash [16]byte) [24]byte {
	var z [21]byte
	copy(z[:], hash[:])
	var out [24]byte
	for i := range 3 {
		c, err := des.NewCipher(desKey(z[7*i : 7*i+7]))
		if err != nil {
			panic(err) // a DES key is always 8 octets
		}
		c.Encrypt(out[8*i:8*i+8], challenge)
	}
	return out
}

// mschapv1NTResponse is the NT-Response of an MS-CHAPv1 Response,
// RFC 2433 §A.2 NtChallengeResponse.
func mschapv1NTResponse(challenge []byte, password string) [24]byte {
	return challengeResponse(challenge, ntPasswordHash(password))
}

// mschapv2Response computes the NT-Response of RFC 2759 §8.1 and the
// authenticator response the peer must send back in Success (§8.7).
func mschapv2Response(authChallenge, peerChallenge []byte, username, password string) (nt []byte, authResp string, err error) {
	// RFC 2759 §8.2: the user name is hashed "with any Windows domain
	// stripped" ("DOMAIN\user" hashes as "user").
	if i := strings.LastIndexByte(username, '\\'); i >= 0 {
		username = username[i+1:]
	}
	nt, err = rfc2759.GenerateNTResponse(authChallenge, peerChallenge, []byte(username), []byte(password))
	if err != nil {
		return nil, "", err
	}
	authResp, err = rfc2759.GenerateAuthenticatorResponse(authChallenge, peerChallenge, nt, []byte(username), []byte(password))
	return nt, authResp, err
}

// mppeClientKeys derives this end's MPPE master session keys as the MS-CHAPv2
// client (RFC 3079 §3.3-3.4, 128-bit). rfc3079.GetAsymmetricStartKey takes
// the server's view: its "send" key is the client's receive key.
func mppeClientKeys(password string, ntResponse []byte) (*MPPEKeys, error) {
	u, err := rfc2759.ToUTF16([]byte(password))
	if err != nil {
		return nil, err
	}
	hh := rfc2759.NTPasswordHash(rfc2759.NTPasswordHash(u))
	master := rfc3079.GetMasterKey(hh, ntResponse)
	send, err := rfc3079.GetAsymmetricStartKey(master, rfc3079.KeyLength128Bit, false)
	if err != nil {
		return nil, err
	}
	recv, err := rfc3079.GetAsymmetricStartKey(master, rfc3079.KeyLength128Bit, true)
	if err != nil {
		return nil, err
	}
	return &MPPEKeys{Send: send, Recv: recv}, nil
}
