// Package ike is the IKEv1 engine (RFC 2409 over ISAKMP, RFC 2408, in the
// IPsec DOI, RFC 2407): main mode and aggressive mode with pre-shared
// keys, quick mode with or without PFS, informational exchanges (Delete,
// notifications) and dead peer detection (RFC 3706).
//
// A Node holds every phase-1 SA of one local endpoint and, under each, its
// quick modes. It has no sockets: the owner feeds it datagrams with
// HandlePacket and it emits datagrams through Config.Send; time comes from
// an injected clock. State and debug names are IOS's (MM_NO_STATE,
// IKE_I_MM1, IKE_QM_I_QM1, QM_IDLE ...) and the event log, through an
// injected slog logger, has the shapes of IOS's `debug crypto isakmp`.
//
// XAuth (draft-beaulieu-ike-xauth-02) and mode-config
// (draft-dukes-ike-mode-cfg-02, with Cisco Unity's attributes) run in
// Transaction exchanges after phase 1, in both roles: as an Easy VPN
// server (Config.XAuth, Authenticate, ModeConfig) the Node asks the client
// for its user and password, refuses quick modes until they pass and
// answers (or pushes) its address, DNS and split networks; as a client
// (Config.XAuthCredentials, RequestModeConfig) it offers
// XAUTHInitPreShared, answers the request and asks for an address that
// its quick modes then protect. Credential checks and address assignment
// are the owner's (no AAA or pool here).
//
// The output of a completed quick mode is a ChildSA: SPIs, algorithms and
// keys in both directions, lifetimes, mode and traffic selectors, for the
// ESP data plane to install.
package ike
