package config

import (
	"strconv"
	"strings"
)

// Diff compares two configurations section by section (a section is a
// top-level command with its submode lines) and returns one line per
// change: "+ SECTION", "- SECTION" or "~ SECTION". The lines go to logs:
// a section is named as show running-config prints it, its secrets masked
// (or type 7), while the comparison sees the secrets themselves, so a
// changed password is a change.
func Diff(old, new *Config) []string {
	a, b := sections(old), sections(new)
	an, bn := shownNames(a, old), shownNames(b, new)
	var out []string
	for i, k := range a.order {
		if nb, ok := b.text[k]; !ok {
			out = append(out, "- "+an[i])
		} else if nb != a.text[k] {
			out = append(out, "~ "+an[i])
		}
	}
	for i, k := range b.order {
		if _, ok := a.text[k]; !ok {
			out = append(out, "+ "+bn[i])
		}
	}
	return out
}

// shownNames are the names of s's sections as show running-config
// prints c. ForShow changes words, never lines, so the sections are the
// same in number and order; were they not, no name is given rather than
// one with a secret.
func shownNames(s sectionSet, c *Config) []string {
	m := sections(c.ForShow(false)).order
	if len(m) != len(s.order) {
		m = make([]string, len(s.order))
		for i := range m {
			m[i] = "(section " + strconv.Itoa(i+1) + ")"
		}
	}
	return m
}

type sectionSet struct {
	order []string
	text  map[string]string
}

func sections(c *Config) sectionSet {
	s := sectionSet{text: map[string]string{}}
	if c == nil {
		return s
	}
	key := ""
	for _, line := range strings.Split(c.String(), "\n") {
		if line == "" || line == "!" || line == "end" {
			continue
		}
		if line[0] != ' ' {
			key = line
			if _, ok := s.text[key]; !ok {
				s.order = append(s.order, key)
			}
			s.text[key] += ""
			continue
		}
		s.text[key] += line + "\n"
	}
	return s
}
