// Package aaa authenticates, authorizes and accounts for PPP users. The
// local backend reads `username` commands; RADIUS comes later behind the
// same interface.
package aaa
