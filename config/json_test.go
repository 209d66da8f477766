package config

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestJSONGolden pins the JSON of `show running-config --json` for two
// fixtures: an LNS with local AAA, and a client (LAC) with classes, a
// Virtual-PPP pseudowire and a route. Run with -update to rewrite them
// after a deliberate schema change (and update docs/json.md).
func TestJSONGolden(t *testing.T) {
	for _, name := range []string{"002-domains", "004-l2tpv2-lac-vppp"} {
		t.Run(name, func(t *testing.T) {
			res, err := LoadFile(filepath.Join("testdata/docs", name+".cfg"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(res.Config, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata/json", name+".json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("JSON of %s differs from %s (run go test ./config -run TestJSONGolden -update after a deliberate change):\n%s", name, golden, got)
			}
		})
	}
}

// TestJSONRoundTrip: for every fixture, JSON -> Config -> JSON gives the
// same bytes, and the decoded Config prints the same configuration.
func TestJSONRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("testdata/docs/*.cfg")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			res, err := LoadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			b1, err := json.Marshal(res.Config)
			if err != nil {
				t.Fatal(err)
			}
			var c Config
			if err := json.Unmarshal(b1, &c); err != nil {
				t.Fatalf("unmarshal: %v\n%s", err, b1)
			}
			b2, err := json.Marshal(&c)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b1, b2) {
				t.Fatalf("round trip changed the JSON:\n%s\n---\n%s", b1, b2)
			}
			if c.String() != res.Config.String() {
				t.Fatalf("the decoded configuration prints differently:\n%s\n---\n%s", res.Config, &c)
			}
		})
	}
}

// TestJSONListsNeverNull: a list of the schema is [] when empty, never
// null, wherever it is: on a zero Config, and inside list elements and
// optional objects (a Config with every optional object present and one
// element in each top-level list, whose own lists are nil).
func TestJSONListsNeverNull(t *testing.T) {
	var full Config
	fillForJSON(reflect.ValueOf(&full).Elem(), true)
	for name, c := range map[string]*Config{"zero": {}, "full": &full} {
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if bytes.Contains(b, []byte("null")) {
			t.Errorf("%s: JSON has a null: %s", name, b)
		}
	}
	if full.AAA.Users[0].AttrList != "x" || full.Interfaces[0].PPPRefuse != nil {
		t.Fatal("fillForJSON did not fill as expected")
	}
}

// fillForJSON sets every string to "x", allocates every pointer and, when
// lists is true, gives every slice one element filled with lists false.
func fillForJSON(v reflect.Value, lists bool) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fillForJSON(v.Elem(), lists)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fillForJSON(v.Field(i), lists)
			}
		}
	case reflect.Slice:
		if lists {
			v.Set(reflect.MakeSlice(v.Type(), 1, 1))
			fillForJSON(v.Index(0), false)
		}
	}
}

// TestJSONDoesNotChangeConfig: marshalling leaves nil lists nil in the
// shared Config (it is read concurrently by the daemon).
func TestJSONDoesNotChangeConfig(t *testing.T) {
	c := &Config{Interfaces: []*Interface{{Name: IfName{Kind: IfLoopback, Number: "0"}}}}
	if _, err := json.Marshal(c); err != nil {
		t.Fatal(err)
	}
	if c.Services != nil || c.Interfaces[0].PPPRefuse != nil {
		t.Fatal("MarshalJSON wrote into the Config")
	}
}

func TestIfNameJSON(t *testing.T) {
	good := map[string]IfName{
		`"Virtual-Template1"`:  {Kind: IfVirtualTemplate, Number: "1"},
		`"GigabitEthernet0/0"`: {Kind: IfGigabitEthernet, Number: "0/0"},
		`"eth0"`:               {Kind: IfLinux, Linux: "eth0"},
	}
	for text, n := range good {
		b, err := json.Marshal(n)
		if err != nil || string(b) != text {
			t.Errorf("Marshal(%v) = %s, %v; want %s", n, b, err, text)
		}
		var got IfName
		if err := json.Unmarshal([]byte(text), &got); err != nil || got != n {
			t.Errorf("Unmarshal(%s) = %+v, %v; want %+v", text, got, err, n)
		}
	}
	for _, bad := range []string{`""`, `"Loopback"`, `"a b"`, `5`, `{"Kind":5}`} {
		var got IfName
		err := json.Unmarshal([]byte(bad), &got)
		if err == nil {
			t.Errorf("Unmarshal(%s) = %+v, want an error", bad, got)
		} else if strings.HasPrefix(bad, `"`) && !strings.Contains(err.Error(), "config: interface name") {
			t.Errorf("Unmarshal(%s): error %q lacks the package prefix", bad, err)
		}
	}
}

// TestJSONDocumented: docs/json.md lists every field of every object, in
// the section whose heading names the Go type.
func TestJSONDocumented(t *testing.T) {
	b, err := os.ReadFile("../docs/json.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || typ.PkgPath() != reflect.TypeFor[Config]().PkgPath() || seen[typ] {
			return
		}
		seen[typ] = true
		if typ == reflect.TypeFor[IfName]() {
			return // a string
		}
		section := docSection(doc, "(`"+typ.Name()+"`)")
		if section == "" {
			t.Errorf("docs/json.md has no section headed (`%s`)", typ.Name())
		}
		for i := range typ.NumField() {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				t.Errorf("%s.%s has no json name", typ.Name(), f.Name)
				continue
			}
			if section != "" && !strings.Contains(section, "`"+name+"`") {
				t.Errorf("docs/json.md, section %s, does not list `%s` (%s.%s)", typ.Name(), name, typ.Name(), f.Name)
			}
			walk(f.Type)
		}
	}
	walk(reflect.TypeFor[Config]())
}

// docSection returns the text from the heading that contains marker to the
// next heading.
func docSection(doc, marker string) string {
	for _, sec := range strings.Split(doc, "\n#")[1:] {
		heading, _, _ := strings.Cut(sec, "\n")
		if strings.Contains(heading, marker) {
			return sec
		}
	}
	return ""
}

// TestJSONDocExample: the example of docs/json.md is what the configuration
// beside it gives.
func TestJSONDocExample(t *testing.T) {
	b, err := os.ReadFile("../docs/json.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(b), "```")
	if len(blocks) < 5 || !strings.HasPrefix(blocks[3], "json\n") {
		t.Fatal("docs/json.md: expected the example as a ``` block of configuration, then a ```json block")
	}
	res, err := Parse("example", strings.TrimPrefix(blocks[1], "\n"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(res.Config)
	if err != nil {
		t.Fatal(err)
	}
	var gotV, wantV any
	if err := json.Unmarshal(got, &gotV); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(blocks[3], "json\n")), &wantV); err != nil {
		t.Fatalf("docs/json.md: the example does not parse: %v", err)
	}
	if !reflect.DeepEqual(gotV, wantV) {
		pretty, _ := json.MarshalIndent(res.Config, "", "  ")
		t.Fatalf("docs/json.md: the example differs from what its configuration gives:\n%s", pretty)
	}
}
