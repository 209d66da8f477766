package aaa

import (
	"fmt"
	"slices"
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

// ListCommand is one method list command:
//
//	aaa authentication ppp {default | NAME} METHOD...
//	aaa authorization network {default | NAME} METHOD...
//
// where METHOD is `local`, `local-case`, `none` or `group NAME`. Package
// config parses the command; the daemon builds the ListCommand from its
// typed model, and NewService checks it.
type ListCommand struct {
	Type    ListType
	Name    string
	Methods []ListMethod
}

// check enforces what IOS enforces on a method list: a known type, a
// name, one to four methods, each known and listed once, and nothing after
// `none` (which always decides, so a later method would never be asked).
func (c ListCommand) check() error {
	switch c.Type {
	case AuthenticationPPP, AuthorizationNetwork:
	default:
		return fmt.Errorf("aaa: list %q: unknown type %v", c.Name, c.Type)
	}
	if c.Name == "" || len(c.Name) > maxNameLen {
		return fmt.Errorf("aaa: %s list: name must be 1 to %d octets", c.Type, maxNameLen)
	}
	if len(c.Methods) == 0 || len(c.Methods) > maxMethods {
		return fmt.Errorf("aaa: %s %s: %d methods; expected 1 to %d", c.Type, c.Name, len(c.Methods), maxMethods)
	}
	for i, m := range c.Methods {
		switch m.Kind {
		case MethodLocal, MethodLocalCase, MethodNone:
			if m.Group != "" {
				return fmt.Errorf("aaa: %s %s: method %v with server group %q", c.Type, c.Name, m, m.Group)
			}
		case MethodGroup:
			if m.Group == "" {
				return fmt.Errorf("aaa: %s %s: \"group\" without a server group name", c.Type, c.Name)
			}
		default:
			return fmt.Errorf("aaa: %s %s: unknown method kind %d", c.Type, c.Name, uint8(m.Kind))
		}
		if slices.Contains(c.Methods[:i], m) {
			return fmt.Errorf("aaa: %s %s: method %v listed twice", c.Type, c.Name, m)
		}
		if i > 0 && c.Methods[i-1].Kind == MethodNone {
			return fmt.Errorf("aaa: %s %s: method %v after none is never used", c.Type, c.Name, m)
		}
	}
	return nil
}
