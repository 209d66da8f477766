// Package aaa authenticates, authorizes and accounts for PPP users.
//
// The contract with PPP is in aaa.go: an Authenticator turns a Request into
// a Result (accept or reject, the peer-facing texts, MPPE keys and the
// Authorization), an Accounter receives session records.
//
// Implementations here:
//
//   - Local, the `username NAME password [0|7] PASSWORD` database: PAP,
//     CHAP-MD5, MS-CHAPv1, MS-CHAPv2 (with the RFC 2759 success string and
//     RFC 3079 MPPE keys) and EAP-MD5; user@domain handling with a per-domain
//     pool and default attributes (seed document 002).
//   - Service, the IOS method lists `aaa authentication ppp LIST METHOD...`
//     and `aaa authorization network LIST METHOD...` (local, local-case,
//     none, group NAME), walked with IOS semantics: the next method only
//     when one could not decide, never after a rejection.
//   - FailureHistory, the bounded per-user table behind `show vpdn history
//     failure`; MemoryAccounter, accounting records kept in memory.
//   - AssignAddress, the peer address of an authorized session from its
//     static address or pool (package pool).
//
// This package parses no configuration text. Package config is the one
// parser of the configuration language (`username`, `aaa authentication
// ppp`, `aaa authorization network`, `ip local pool`). The daemon builds
// the values used here from config's typed model: a User per `username`
// (decoding a `password 7` secret with type7.Decode), a ListCommand per
// method list, and a pool.Group filled with AddRange. NewLocal and
// NewService check those values.
//
// The cryptography of MS-CHAP is in the subpackage mschap. RADIUS is the
// subpackage radius: its server groups are the `group radius` and `group
// NAME` Authenticators of ServiceConfig.Groups.
package aaa
