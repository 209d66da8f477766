package config

import "strings"

// Diff compares two configurations section by section (a section is a
// top-level command with its submode lines) and returns one line per
// change: "+ SECTION", "- SECTION" or "~ SECTION".
func Diff(old, new *Config) []string {
	a, b := sections(old), sections(new)
	var out []string
	for _, k := range a.order {
		if nb, ok := b.text[k]; !ok {
			out = append(out, "- "+k)
		} else if nb != a.text[k] {
			out = append(out, "~ "+k)
		}
	}
	for _, k := range b.order {
		if _, ok := a.text[k]; !ok {
			out = append(out, "+ "+k)
		}
	}
	return out
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
