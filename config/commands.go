package config

import (
	"fmt"
	"strconv"
	"strings"
)

// command is one entry of the command table: the grammar, its help text and
// what it does to the model. The table is the single source of the parser
// and of the configuration reference (README.md).
type command struct {
	mode   mode
	spec   string
	help   string
	noForm bool
	// later, when set, names the later work this command belongs to; the
	// command is recognised and refused with "not supported yet".
	later string
	// inert, when set, says why the command is accepted (it is kept in
	// the model and printed) but has no effect yet; using it warns.
	inert string
	apply func(p *parser, m *Match, neg bool) error

	elem *elem
}

func (c *command) syntax() string { return c.elem.String() }

var commandsByMode [nModes][]*command

func init() {
	for _, c := range commandTable {
		c.elem = compile(c.spec)
		commandsByMode[c.mode] = append(commandsByMode[c.mode], c)
	}
}

// Commands returns the command table, for the reference generator.
func Commands() []CommandDoc {
	var out []CommandDoc
	for _, c := range commandTable {
		out = append(out, CommandDoc{Mode: c.mode.String(), Prompt: modePrompts[c.mode], Syntax: c.syntax(), Help: c.help, NoForm: c.noForm, Later: c.later, Inert: c.inert})
	}
	return out
}

// CommandDoc describes one command for documentation.
type CommandDoc struct {
	Mode, Prompt, Syntax, Help string
	NoForm                     bool
	Later                      string
	Inert                      string
}

func secret(m *Match) (Secret, error) {
	s := Secret{Value: m.Str("password")}
	if t := m.Str("type"); t != "" {
		s.Type, _ = strconv.Atoi(t)
	}
	if s.Value == MaskedSecret {
		return Secret{}, fmt.Errorf("password %s is the mask `show running-config` prints, not a secret; expected the password itself (`show running-config --secrets` prints it)", MaskedSecret)
	}
	if s.Type == 7 {
		if err := checkType7(s.Value); err != nil {
			return Secret{}, err
		}
	}
	return s, nil
}

// checkType7 validates the syntax of a Cisco type-7 string: two decimal
// digits (the key offset, 0-15 in practice up to 52) then pairs of hex.
func checkType7(s string) error {
	if len(s) < 4 || len(s)%2 != 0 {
		return fmt.Errorf("type 7 password %q: expected an even number of characters, at least 4", s)
	}
	if n, err := strconv.Atoi(s[:2]); err != nil || n > 52 {
		return fmt.Errorf("type 7 password %q: expected two decimal digits 00-52 first", s)
	}
	for _, c := range strings.ToLower(s[2:]) {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return fmt.Errorf("type 7 password %q: expected hexadecimal digits after the first two", s)
		}
	}
	return nil
}

func ifArg(m *Match, name string) *IfName {
	s := m.Str(name)
	if s == "" {
		return nil
	}
	n, err := ParseInterfaceName(s)
	if err != nil {
		return nil
	}
	return &n
}

const passwordSpec = "[<type:int:0-7>] <password:word>"

// commandTable is every command, feature by feature. The order is the
// order of the reference and, within a mode, the order the parser tries
// commands in (which names the syntax an error message quotes).
var commandTable = concatCommands(
	globalCommands,
	vpdnCommands,
	interfaceCommands,
	classCommands,
	aaaCommands,
	radiusCommands,
	ipCommands,
	cryptoCommands,
	pkiCommands,
	laterCommands,
	controllerCommands,
)

func concatCommands(lists ...[]*command) []*command {
	var out []*command
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// set applies a command that sets one value: v, or for the no form the
// zero value (the default, which the printer leaves out). v is evaluated
// in both cases, so it must not fail on the arguments a no form may omit.
func set[T any](field *T, v T, neg bool) {
	if neg {
		var zero T
		*field = zero
		return
	}
	*field = v
}

// setMember applies a command that adds one value to a list (a repeatable
// command): v is appended, or for the no form removed. A value given
// twice is kept once, at its latest position.
func setMember[T comparable](list *[]T, v T, neg bool) {
	*list = without(*list, v)
	if !neg {
		*list = append(*list, v)
	}
}

// without returns s without v, filtered in place.
func without[T comparable](s []T, v T) []T {
	out := s[:0]
	for _, x := range s {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}
