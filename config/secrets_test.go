package config

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/vpdn/vpdn/internal/type7"
)

// secretsCfg sets every secret the configuration language has, each a
// distinct clear-text word, and one already in type 7.
const secretsCfg = `hostname lns
username alice password 0 clearUserPw
username carol privilege 15 password clearPrivPw
username dave password 7 0822455D0A16
l2tp-class lc
 authentication
 password 0 clearClassPw
 digest secret 0 clearDigestPw
vpdn enable
vpdn-group LNS
 accept-dialin
  protocol l2tp
  virtual-template 1
 l2tp tunnel password 0 clearTunnelPw
interface Virtual-Template1
 ppp chap password 0 clearChapPw
 ppp pap sent-username bob password 0 clearPapPw
radius server R1
 address ipv4 198.18.0.9 auth-port 1812 acct-port 1813
 key 0 clearRadiusKey
radius-server key clearGlobalKey
aaa server radius dynamic-author
 client 198.18.0.12 server-key 0 clearDynKey
 server-key 0 globalDynKey
vpdn pool-store postgres "host=198.18.0.9 dbname=vpdn user=vpdn password=clearPoolStoreDSN"
crypto isakmp key 0 clearIsakmpKey address 198.18.0.50
crypto isakmp client configuration group G
 key 0 clearGroupKey
crypto ipsec client ezvpn E
 group G key 0 clearEzGroupKey
 peer 198.18.0.60
 username u password 0 clearEzUserPw
crypto keyring KR
 pre-shared-key address 198.18.0.51 key 0 clearKeyringKey
`

var clearSecrets = []string{"clearUserPw", "clearPrivPw", "clearClassPw", "clearDigestPw", "clearTunnelPw", "clearChapPw", "clearPapPw", "clearRadiusKey", "clearGlobalKey", "clearDynKey", "globalDynKey", "clearPoolStoreDSN", "clearIsakmpKey", "clearGroupKey", "clearEzGroupKey", "clearEzUserPw", "clearKeyringKey"}

// TestSecretsCoverEveryField: the fixture sets every Secret field of the
// model, so the tests below see them all; a new secret command must be
// added to it.
func TestSecretsCoverEveryField(t *testing.T) {
	res, err := Parse("s.cfg", secretsCfg)
	if err != nil {
		t.Fatal(err)
	}
	var set, all int
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Slice:
			for i := range v.Len() {
				walk(v.Index(i))
			}
		case reflect.Struct:
			if v.Type() == secretType {
				if !v.Interface().(Secret).IsZero() {
					set++
				}
				return
			}
			for i := range v.NumField() {
				if v.Type().Field(i).IsExported() {
					walk(v.Field(i))
				}
			}
		}
	}
	walk(reflect.ValueOf(res.Config))
	// Count the Secret fields of the model's types.
	seen := map[reflect.Type]bool{}
	var count func(t reflect.Type)
	count = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || seen[t] {
			return
		}
		seen[t] = true
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			if f.Type == secretType {
				all++
				continue
			}
			count(f.Type)
		}
	}
	count(reflect.TypeFor[Config]())
	// Every field is set, the username one three times.
	if set != all+2 {
		t.Fatalf("the fixture sets %d secrets, the model has %d Secret fields (+2 more users): add the new one to secretsCfg", set, all)
	}
}

func TestForShowSecrets(t *testing.T) {
	for _, tc := range []struct {
		name   string
		enc    bool
		reveal bool
		clear  bool   // the clear secrets appear
		want   string // a line that must appear
	}{
		{name: "masked", want: "username alice password 0 <removed>"},
		{name: "revealed", reveal: true, clear: true, want: "username alice password 0 clearUserPw"},
		{name: "encrypted", enc: true, want: "username dave password 7 0822455D0A16"},
		{name: "encrypted revealed", enc: true, reveal: true, clear: true, want: "l2tp tunnel password 0 clearTunnelPw"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := secretsCfg
			if tc.enc {
				text = "service password-encryption\n" + text
			}
			res, err := Parse("s.cfg", text)
			if err != nil {
				t.Fatal(err)
			}
			before := res.Config.String()
			c := res.Config.ForShow(tc.reveal)
			if res.Config.String() != before {
				t.Fatal("ForShow changed the configuration in force")
			}
			out := c.String()
			js, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range clearSecrets {
				if got := strings.Contains(out, s); got != tc.clear {
					t.Errorf("text has %q: %v, want %v\n%s", s, got, tc.clear, out)
				}
				if got := strings.Contains(string(js), s); got != tc.clear {
					t.Errorf("JSON has %q: %v, want %v\n%s", s, got, tc.clear, js)
				}
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("no %q in\n%s", tc.want, out)
			}
			if tc.enc && !tc.reveal {
				// Every type 0 secret is now type 7, decoding to the
				// clear text, and the output parses back to the same
				// secrets.
				back, err := Parse("back.cfg", out)
				if err != nil {
					t.Fatalf("the type 7 configuration does not parse: %v\n%s", err, out)
				}
				for _, u := range back.Config.AAA.Users {
					if u.Password.Type != 7 {
						t.Errorf("user %s: type %d", u.Name, u.Password.Type)
					}
				}
				p := back.Config.VPDN.Groups[0].TunnelPassword
				plain, err := type7.Decode(p.Value)
				if p.Type != 7 || err != nil || plain != "clearTunnelPw" {
					t.Errorf("tunnel password %+v decodes to %q, %v", p, plain, err)
				}
				if strings.Contains(out, "password 0 ") || strings.Contains(out, "secret 0 ") {
					t.Errorf("a type 0 password is left:\n%s", out)
				}
			}
		})
	}
}

// TestMaskedSecretRefused: a masked configuration pasted back is an
// error, not the password "<removed>".
func TestMaskedSecretRefused(t *testing.T) {
	res, err := Parse("s.cfg", secretsCfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Parse("masked.cfg", res.Config.ForShow(false).String())
	if err == nil || !strings.Contains(err.Error(), "<removed>") {
		t.Fatalf("err = %v, want a refusal naming the mask", err)
	}
}

func TestEncodeType7(t *testing.T) {
	for _, p := range []string{"a", "cisco", "clearTunnelPw", strings.Repeat("x", 100), "sp ace\x01"} {
		enc, ok := encodeType7(p)
		if !ok {
			t.Fatalf("%q: not encoded", p)
		}
		if err := checkType7(enc); err != nil {
			t.Errorf("%q: %v", p, err)
		}
		if got, err := type7.Decode(enc); err != nil || got != p {
			t.Errorf("%q -> %s -> %q, %v", p, enc, got, err)
		}
	}
	if _, ok := encodeType7(strings.Repeat("x", 257)); ok {
		t.Error("a 257-octet password was encoded")
	}
}

// TestPasswordEncryptionNoForm: `no service password-encryption` turns it
// off again.
func TestPasswordEncryptionNoForm(t *testing.T) {
	res, err := Parse("s.cfg", "service password-encryption\nno service password-encryption\nservice internal\n")
	if err != nil {
		t.Fatal(err)
	}
	if res.Config.PasswordEncryption() || len(res.Config.Services) != 1 {
		t.Fatalf("services %v", res.Config.Services)
	}
	for _, w := range res.Warnings {
		if strings.Contains(w.Error(), "password-encryption") {
			t.Errorf("warning %v: the switch has an effect now", w)
		}
	}
}

// TestDiffMasksSecrets: a changed password is a change, named without
// the password.
func TestDiffMasksSecrets(t *testing.T) {
	a, err := Parse("a.cfg", secretsCfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse("b.cfg", strings.ReplaceAll(strings.ReplaceAll(secretsCfg, "clearUserPw", "newUserPw"), "clearTunnelPw", "newTunnelPw"))
	if err != nil {
		t.Fatal(err)
	}
	d := strings.Join(Diff(a.Config, b.Config), "\n")
	for _, want := range []string{"- username alice password 0 <removed>", "+ username alice password 0 <removed>", "~ vpdn-group LNS"} {
		if !strings.Contains(d, want) {
			t.Errorf("diff lacks %q:\n%s", want, d)
		}
	}
	for _, s := range append(clearSecrets, "newUserPw", "newTunnelPw") {
		if strings.Contains(d, s) {
			t.Errorf("diff shows %q:\n%s", s, d)
		}
	}
}
