// Package control is the daemon's local API: a line-oriented request /
// response protocol over a unix socket (show, clear, debug, reload), and the
// thin client the CLI uses to speak it.
package control
