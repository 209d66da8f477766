module github.com/vpdn/vpdn

go 1.26.8

require (
	github.com/vishvananda/netlink v1.3.1
	golang.org/x/net v0.47.0
	golang.org/x/sys v0.38.0
	layeh.com/radius v0.0.0-20231213012653-1006025d24f8
)

require (
	github.com/vishvananda/netns v0.0.5 // indirect
	golang.org/x/crypto v0.44.0 // indirect
	golang.org/x/text v0.31.0 // indirect
)
