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
// The output of a completed quick mode is a ChildSA: SPIs, algorithms and
// keys in both directions, lifetimes, mode and traffic selectors, for the
// ESP data plane to install.
package ike
