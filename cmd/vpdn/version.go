package main

import (
	"fmt"

	"github.com/vpdn/vpdn/internal/version"
)

func runVersion(args []string) int {
	fmt.Println(version.String())
	return 0
}
