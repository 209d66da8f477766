package config

import (
	"encoding/json"
	"fmt"
	"reflect"
)

// The JSON form of the model is the schema of `show running-config --json`,
// documented in docs/json.md: names are the Go field names in snake_case
// (the json tags), interface names are their IOS spelling, enums their IOS
// keywords, secrets are written as the configuration writes them (type
// and value, never decoded; `show running-config` passes ForShow's copy,
// which masks or encodes the clear-text ones), lists are never null, and optional values
// that are not set are left out.

// MarshalJSON writes the configuration in the schema of docs/json.md. A nil
// list is written as [] (a list of the schema is never null); the
// Config itself is not changed, as readers of the running configuration
// share it.
func (c Config) MarshalJSON() ([]byte, error) {
	type plain Config // the same fields without this method
	v := withEmptyLists(reflect.ValueOf(plain(c)))
	b, err := json.Marshal(v.Interface())
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return b, nil
}

// withEmptyLists returns a copy of v in which every nil slice reachable
// through exported fields, pointers and slices is an empty one. Values
// whose IsZero method says they are unset are kept as they are, so that
// omitzero still leaves them out.
func withEmptyLists(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Slice:
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			out.Index(i).Set(withEmptyLists(v.Index(i)))
		}
		return out
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type().Elem())
		out.Elem().Set(withEmptyLists(v.Elem()))
		return out
	case reflect.Struct:
		if z, ok := v.Interface().(interface{ IsZero() bool }); ok && z.IsZero() {
			return v
		}
		out := reflect.New(v.Type()).Elem()
		out.Set(v)
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				out.Field(i).Set(withEmptyLists(v.Field(i)))
			}
		}
		return out
	}
	return v
}

// MarshalText writes the canonical IOS spelling: "Virtual-Template1",
// "GigabitEthernet0/0", or the Linux name ("eth0").
func (n IfName) MarshalText() ([]byte, error) { return []byte(n.String()), nil }

// UnmarshalText reads a name as ParseInterfaceName does.
func (n *IfName) UnmarshalText(b []byte) error {
	v, err := ParseInterfaceName(string(b))
	if err != nil {
		return fmt.Errorf("config: interface name: %w", err)
	}
	*n = v
	return nil
}

// IsZero reports whether no dialer command is configured (what the printer
// leaves out; omitzero leaves it out of the JSON too).
func (d Dialer) IsZero() bool {
	return d.Pool == 0 && d.IdleTimeout == nil && len(d.Strings) == 0 && !d.VPDN && d.Group == 0
}
