package loadgen

import (
	"fmt"

	"github.com/vpdn/vpdn/aaa"
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
