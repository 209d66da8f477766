package config

import (
	"fmt"
	"strings"
)

// Reference renders the configuration reference, in Markdown, from the
// command table. The README embeds it; a test keeps the two identical.
func Reference() string {
	var b strings.Builder
	b.WriteString("Generated from the parser's command table (`go test ./config -run TestReferenceInREADME -update` rewrites it).\n")
	b.WriteString("Notation as in the IOS command references: `<arg>` an argument, `[a | b]` optional, `{a | b}` one of, `x...` one or more. ")
	b.WriteString("Keywords are case-insensitive and may be abbreviated to any unambiguous prefix; commands marked *no* also take the `no` form, whose trailing arguments may be left out. ")
	b.WriteString("A command that is not valid in the current mode is tried in the enclosing modes, as IOS does; indentation is not significant.\n\n")
	b.WriteString("**Interface names.** Virtual interfaces vpdn creates have IOS names: `Virtual-Template N`, `Virtual-Access N` (cloned at run time), `Virtual-PPP N`, `Dialer N`, `Loopback N`; ")
	b.WriteString("any unambiguous abbreviation and a space before the number are accepted (`virtual-ppp 1`, `lo0`). ")
	b.WriteString("Physical interfaces are the host's devices: write them by their Linux name (`eth0`, `veth-lns`), or by an IOS name — ")
	b.WriteString("`Ethernet`, `FastEthernet`, `GigabitEthernet`, `TenGigabitEthernet` in full or as `Et`/`Fa`/`Gi`/`Te`, with slot/port numbers and spaces as the documents write them (`FastEthernet 0/0`, `Ethernet0 / 0`). ")
	b.WriteString("An IOS-named physical interface stands for the Linux device given by its `linux-device` command; its address is the one in its `ip address` command, else the device's own. ")
	b.WriteString("A name that is not an IOS name (`eth0` is not an abbreviation of Ethernet) is a Linux device name. vpdn never changes a physical interface.\n")
	for m := mode(0); m < nModes; m++ {
		if len(commandsByMode[m]) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n#### %s mode `%s`\n\n", m, modePrompts[m])
		b.WriteString("| command | | what it does |\n|---|---|---|\n")
		for _, c := range commandsByMode[m] {
			flag := ""
			switch {
			case c.later != "":
				flag = "refused: not supported yet"
			case c.inert != "":
				flag = "no effect yet"
				if c.noForm {
					flag = "no; no effect yet"
				}
			case c.noForm:
				flag = "no"
			}
			help := c.help
			if c.inert != "" {
				help += " *No effect yet: " + c.inert + ".*"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", strings.ReplaceAll(c.syntax(), "|", "\\|"), flag, strings.ReplaceAll(help, "|", "\\|"))
		}
	}
	return b.String()
}
