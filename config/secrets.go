package config

import (
	"reflect"
	"slices"

	"github.com/vpdn/vpdn/internal/type7"
)

// ServicePasswordEncryption is the Services entry of `service
// password-encryption`.
const ServicePasswordEncryption = "password-encryption"

// MaskedSecret is what `show running-config` prints in place of a
// clear-text secret: `username bob password 0 <removed>`. It is the
// word IOS's `show tech-support` prints for secrets; the angle brackets
// keep it from being mistaken for a password, and the parser refuses it,
// so a masked configuration pasted back is an error, not a new password.
const MaskedSecret = "<removed>"

// PasswordEncryption reports whether `service password-encryption` is on.
func (c *Config) PasswordEncryption() bool {
	return slices.Contains(c.Services, ServicePasswordEncryption)
}

// ForShow returns the configuration as `show running-config` prints it
// (text and JSON). With reveal, every secret is as written (`show
// running-config --secrets`). Otherwise no clear-text secret is left:
// under `service password-encryption` each type 0 secret is written in
// type 7, as IOS does; without it, each is masked (MaskedSecret). Type 7
// secrets are printed as written either way, as IOS does. c is not
// changed (readers share it); the result is a copy when anything changed.
func (c *Config) ForShow(reveal bool) *Config {
	if reveal {
		return c
	}
	enc := c.PasswordEncryption()
	f := func(s Secret) Secret {
		if s.IsZero() || s.Type != 0 {
			return s
		}
		if enc {
			if v, ok := encodeType7(s.Value); ok {
				return Secret{Type: 7, Value: v}
			}
		}
		return Secret{Type: 0, Value: MaskedSecret}
	}
	return mapSecrets(reflect.ValueOf(c), f).Interface().(*Config)
}

var secretType = reflect.TypeFor[Secret]()

// mapSecrets returns a deep copy of v (through pointers, slices and
// exported struct fields) with every Secret replaced by f's answer.
func mapSecrets(v reflect.Value, f func(Secret) Secret) reflect.Value {
	switch v.Kind() {
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			out.Index(i).Set(mapSecrets(v.Index(i), f))
		}
		return out
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type().Elem())
		out.Elem().Set(mapSecrets(v.Elem(), f))
		return out
	case reflect.Struct:
		if v.Type() == secretType {
			return reflect.ValueOf(f(v.Interface().(Secret)))
		}
		out := reflect.New(v.Type()).Elem()
		out.Set(v)
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				out.Field(i).Set(mapSecrets(v.Field(i), f))
			}
		}
		return out
	}
	return v
}

// encodeType7 writes plain in type 7 form. The offset is derived from the
// password (0-15, as IOS picks) so that the same configuration always
// prints the same text. It fails for a password longer than IOS allows.
func encodeType7(plain string) (string, bool) {
	seed := 0
	for i := 0; i < len(plain); i++ {
		seed += int(plain[i])
	}
	v, err := type7.Encode(plain, seed%16)
	return v, err == nil
}
