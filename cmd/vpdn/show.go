package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/vpdn/vpdn/control"
	"github.com/vpdn/vpdn/internal/debug"
)

// ask sends one request to the daemon and prints the answer.
func ask(verb string, args []string, needWords bool) int {
	// show --secrets: running-config with its secrets as written (the
	// daemon grants it to the admin role only).
	secrets := false
	if verb == "show" {
		args = slices.DeleteFunc(slices.Clone(args), func(a string) bool {
			if a == "--secrets" || a == "-secrets" {
				secrets = true
				return true
			}
			return false
		})
	}
	words, socket, asJSON, err := splitFlags(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vpdn %s: %v\n", verb, err)
		return 2
	}
	if needWords && len(words) == 0 {
		fmt.Fprintf(os.Stderr, "vpdn %s: expected what to %s; see vpdn %s --help\n", verb, verb, verb)
		return 2
	}
	c, err := control.Dial(control.SocketFromEnv(socket))
	if err != nil {
		fmt.Fprintf(os.Stderr, "vpdn %s: %v\n", verb, err)
		return 1
	}
	defer c.Close()
	resp, err := c.Do(&control.Request{Verb: verb, Words: words, JSON: asJSON, Secrets: secrets})
	if err != nil {
		fmt.Fprintf(os.Stderr, "vpdn %s: %v\n", verb, err)
		return 1
	}
	if !resp.OK {
		fmt.Fprintln(os.Stderr, resp.Error)
		return 1
	}
	if asJSON && len(resp.Data) > 0 {
		var buf bytes.Buffer
		if json.Indent(&buf, resp.Data, "", "  ") == nil {
			buf.WriteByte('\n')
			os.Stdout.Write(buf.Bytes())
			return 0
		}
	}
	fmt.Print(resp.Text)
	if resp.Text != "" && !strings.HasSuffix(resp.Text, "\n") {
		fmt.Println()
	}
	return 0
}

func runShow(args []string) int    { return ask("show", args, true) }
func runClear(args []string) int   { return ask("clear", args, true) }
func runCrypto(args []string) int  { return ask("crypto", args, true) }
func runDebug(args []string) int   { return ask("debug", args, true) }
func runUndebug(args []string) int { return ask("undebug", args, true) }
func runReload(args []string) int  { return ask("reload", args, false) }

func debugSwitchList() string {
	var b strings.Builder
	for _, k := range debug.Known {
		fmt.Fprintf(&b, "  %-20s %s\n", k.Name, k.Help)
	}
	return b.String()
}
