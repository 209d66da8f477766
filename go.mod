module github.com/vpdn/vpdn

go 1.26.8

require golang.org/x/net v0.47.0

require golang.org/x/sys v0.38.0 // indirect
