// Package dataplane moves packets between tunnels and interfaces: the
// session table, encapsulation and decapsulation, batching, buffer pools
// and per-reason drop counters. It never imports the control plane; the
// control plane installs and removes sessions through a narrow API.
package dataplane
