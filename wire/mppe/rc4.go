package mppe

// rc4 is the RC4 stream cipher, kept in a value that can be re-keyed in
// place: crypto/rc4 only hands out a new *Cipher per key, which would
// allocate on every key change of a stateless link. It is checked against
// crypto/rc4 and the vectors of RFC 6229 in the tests.
type rc4 struct {
	s    [256]uint32
	i, j uint8
}

// reset runs the key schedule with key (1 to 256 octets).
func (c *rc4) reset(key []byte) {
	for i := range c.s {
		c.s[i] = uint32(i)
	}
	var j uint8
	k := 0
	for i := range c.s {
		j += uint8(c.s[i]) + key[k]
		c.s[i], c.s[j] = c.s[j], c.s[i]
		if k++; k == len(key) {
			k = 0
		}
	}
	c.i, c.j = 0, 0
}

// xorKeyStream sets dst[k] = src[k] ^ keystream for each k. dst must be at
// least as long as src; they may overlap exactly, or dst may start before
// src (the loop reads each octet before it writes one at or behind it).
func (c *rc4) xorKeyStream(dst, src []byte) {
	if len(src) == 0 {
		return
	}
	dst = dst[:len(src)]
	i, j := c.i, c.j
	for k, v := range src {
		i++
		x := c.s[i]
		j += uint8(x)
		y := c.s[j]
		c.s[i], c.s[j] = y, x
		dst[k] = v ^ uint8(c.s[uint8(x+y)])
	}
	c.i, c.j = i, j
}
