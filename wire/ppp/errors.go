package ppp

import "errors"

// Errors returned by the parsers. They are sentinel values so that parsing
// never allocates; callers count drops per error.
var (
	ErrShort         = errors.New("ppp: packet too short")
	ErrLength        = errors.New("ppp: length field exceeds the packet")
	ErrBadLength     = errors.New("ppp: length field too small")
	ErrProtocol      = errors.New("ppp: malformed protocol field")
	ErrOptionLength  = errors.New("ppp: option length below 2 or beyond the packet")
	ErrTooManyOpts   = errors.New("ppp: too many options")
	ErrOptionValue   = errors.New("ppp: option value has the wrong size")
	ErrHeadroom      = errors.New("ppp: not enough headroom for the header")
	ErrFCS           = errors.New("ppp: bad FCS")
	ErrRunt          = errors.New("ppp: HDLC frame too short")
	ErrFrameTooLong  = errors.New("ppp: HDLC frame too long")
	ErrAbort         = errors.New("ppp: HDLC frame aborted")
	ErrFieldLength   = errors.New("ppp: inner length field exceeds the packet")
	ErrMessageSyntax = errors.New("ppp: malformed MS-CHAP message")
)
