module github.com/vpdn/vpdn

go 1.26.8

require (
	golang.org/x/crypto v0.13.0
	layeh.com/radius v0.0.0-20231213012653-1006025d24f8
)

require golang.org/x/text v0.13.0 // indirect
