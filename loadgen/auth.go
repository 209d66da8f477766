package loadgen

import (
	"fmt"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/proto/ppp"
)

// ParseAuth maps the --auth words to a method: "" (any), pap, chap,
// ms-chap-v2.
func ParseAuth(s string) (aaa.Method, error) {
	switch s {
	case "":
		return 0, nil
	case "pap":
		return aaa.PAP, nil
	case "chap":
		return aaa.CHAP, nil
	case "ms-chap-v2":
		return aaa.MSCHAPv2, nil
	}
	return 0, fmt.Errorf("loadgen: authentication %q: expected pap, chap or ms-chap-v2", s)
}

// ParseMPPE maps the --mppe words to the sessions' MPPE (RFC 3078): auto
// (offer 40 and 128 bits, as IOS `ppp encrypt mppe auto`) or none.
func ParseMPPE(s string) (ppp.MPPEConfig, error) {
	switch s {
	case "auto":
		return ppp.MPPEConfig{Strengths: ppp.MPPEAuto}, nil
	case "none":
		return ppp.MPPEConfig{}, nil
	}
	return ppp.MPPEConfig{}, fmt.Errorf("loadgen: mppe %q: expected auto or none", s)
}
