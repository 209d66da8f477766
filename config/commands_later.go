package config

// laterCommands are global commands of later work: recognised, so that a
// configuration using them is refused with the reason, not as unknown.
var laterCommands = []*command{
	{mode: mGlobal, spec: "router <rest:line>", help: "Routing protocols: vpdn does not run an IGP; run FRR on the Virtual-Access / Virtual-PPP interfaces.", later: "vpdn runs no routing protocol; run FRR over its Virtual-Access and Virtual-PPP interfaces"},
	{mode: mGlobal, spec: "ip dhcp <rest:line>", help: "DHCP pools: later work.", later: "ip dhcp (address assignment by DHCP) is later work"},
	{mode: mGlobal, spec: "ip nhrp <rest:line>", help: "NHRP: later work (DMVPN).", later: "NHRP is later work (DMVPN)"},
	{mode: mGlobal, spec: "l2tp <rest:line>", help: "Global L2TP settings (l2tp congestion-control, ...): later work.", later: "global l2tp settings are later work; use l2tp-class or vpdn-group settings"},
}
