module github.com/vpdn/vpdn

go 1.26.8
