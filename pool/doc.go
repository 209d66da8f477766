// Package pool implements `ip local pool` address pools with O(1)
// allocation and release.
package pool
