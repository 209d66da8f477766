// Package pool implements `ip local pool` address pools with O(1)
// allocation and release.
//
// It parses no configuration text: package config parses `ip local pool
// NAME START [END]`, and the daemon adds each range of config's typed model
// to a Group with AddRange.
package pool
