// Package transport provides the UDP, TCP and raw-IP sockets the protocols
// run over, with batched I/O, and in-memory fakes of each for tests.
package transport
