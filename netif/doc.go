// Package netif creates and configures TUN/TAP devices, addresses and
// routes through netlink.
package netif
