package aaa

import (
	"fmt"
	"strings"
)

// MethodKind is one method of an IOS method list.
type MethodKind uint8

const (
	MethodLocal     MethodKind = iota + 1 // `local`: the username database, names without regard to case
	MethodLocalCase                       // `local-case`: names match exactly
	MethodNone                            // `none`: accept (authentication) or authorize without attributes
	MethodGroup                           // `group NAME`: a server group such as `group radius`
)

// ListMethod is one entry of a method list.
type ListMethod struct {
	Kind  MethodKind
	Group string // for MethodGroup
}

func (m ListMethod) String() string {
	switch m.Kind {
	case MethodLocal:
		return "local"
	case MethodLocalCase:
		return "local-case"
	case MethodNone:
		return "none"
	case MethodGroup:
		return "group " + m.Group
	}
	return fmt.Sprintf("method(%d)", uint8(m.Kind))
}

// ListType says which service a method list serves.
type ListType uint8

const (
	AuthenticationPPP    ListType = iota + 1 // aaa authentication ppp
	AuthorizationNetwork                     // aaa authorization network
)

func (t ListType) String() string {
	switch t {
	case AuthenticationPPP:
		return "authentication ppp"
	case AuthorizationNetwork:
		return "authorization network"
	}
	return fmt.Sprintf("ListType(%d)", uint8(t))
}

// DefaultList is the name of the list used when none is named.
const DefaultList = "default"

// maxMethods is the number of methods IOS accepts in one list.
const maxMethods = 4

// ListCommand is a parsed method list command:
//
//	aaa authentication ppp {default | NAME} METHOD...
//	aaa authorization network {default | NAME} METHOD...
//
// where METHOD is `local`, `local-case`, `none` or `group NAME`.
type ListCommand struct {
	Type    ListType
	Name    string
	Methods []ListMethod
}

// ParseListCommand parses one method list command.
func ParseListCommand(line string) (ListCommand, error) {
	var c ListCommand
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "aaa" {
		return c, fmt.Errorf("aaa: %q: want \"aaa authentication ppp LIST METHOD...\" or \"aaa authorization network LIST METHOD...\"", line)
	}
	switch {
	case f[1] == "authentication" && f[2] == "ppp":
		c.Type = AuthenticationPPP
	case f[1] == "authorization" && f[2] == "network":
		c.Type = AuthorizationNetwork
	default:
		return c, fmt.Errorf("aaa: %q: unsupported list type %q", line, f[1]+" "+f[2])
	}
	c.Name = f[3]
	if len(c.Name) > maxNameLen {
		return c, fmt.Errorf("aaa: list name longer than %d characters", maxNameLen)
	}
	seen := map[ListMethod]bool{}
	for i := 4; i < len(f); i++ {
		var m ListMethod
		switch f[i] {
		case "local":
			m.Kind = MethodLocal
		case "local-case":
			m.Kind = MethodLocalCase
		case "none":
			m.Kind = MethodNone
		case "group":
			if i+1 >= len(f) {
				return c, fmt.Errorf("aaa: %s %s: \"group\" without a server group name", c.Type, c.Name)
			}
			i++
			m = ListMethod{Kind: MethodGroup, Group: f[i]}
		default:
			return c, fmt.Errorf("aaa: %s %s: unknown method %q", c.Type, c.Name, f[i])
		}
		if seen[m] {
			return c, fmt.Errorf("aaa: %s %s: method %v listed twice", c.Type, c.Name, m)
		}
		if len(c.Methods) > 0 && c.Methods[len(c.Methods)-1].Kind == MethodNone {
			return c, fmt.Errorf("aaa: %s %s: method %v after none is never used", c.Type, c.Name, m)
		}
		if len(c.Methods) == maxMethods {
			return c, fmt.Errorf("aaa: %s %s: more than %d methods", c.Type, c.Name, maxMethods)
		}
		seen[m] = true
		c.Methods = append(c.Methods, m)
	}
	return c, nil
}
