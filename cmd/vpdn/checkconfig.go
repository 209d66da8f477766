package main

import (
	"fmt"
	"os"

	"github.com/vpdn/vpdn/config"
)

func runCheckConfig(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: vpdn check-config FILE")
		return 2
	}
	res, err := config.LoadFile(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(os.Stderr, "warning: %s\n", w)
	}
	fmt.Print(res.Config.String())
	return 0
}
