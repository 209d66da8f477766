package ike

import (
	"errors"
	"fmt"

	"github.com/vpdn/vpdn/wire/isakmp"
)

// notifyError is a failure that RFC 2408 answers with a notification.
type notifyError struct {
	t   isakmp.NotifyType
	err error
}

func (e *notifyError) Error() string { return fmt.Sprintf("ike: %v: %v", e.t, e.err) }
func (e *notifyError) Unwrap() error { return e.err }

func notifyOf(err error) isakmp.NotifyType {
	var ne *notifyError
	if errors.As(err, &ne) {
		return ne.t
	}
	return isakmp.NotifyPayloadMalformed
}

// payloads are the payloads of one message, sorted by kind. Bodies alias
// the message.
type payloads struct {
	sa, ke, nonce, hash []byte
	ids                 [][]byte // ID bodies in order (IDii / IDir, or IDci, IDcr)
	vids                [][]byte
	notifies            []isakmp.Notification
	deletes             []isakmp.Delete
	natd                [][]byte
	natoa               [][]byte // NAT-OA bodies (RFC 3947 §5.2), at most two kept
	attr                []byte   // the attribute payload (mode-config / XAuth)
	certs               [][]byte // CERT bodies (encoding, then data), at most maxCerts
	sig                 []byte   // the SIG body
	crs                 int      // CR payloads seen
	firstHash           bool     // the first payload is HASH (RFC 2409 §5.5)
	afterHash           []byte   // the payloads after the first HASH, without padding
}

// collect walks a message body (plaintext) and sorts its payloads.
// Unknown payload types get INVALID-PAYLOAD-TYPE (RFC 2408 §5.2), bad
// lengths PAYLOAD-MALFORMED.
func collect(first isakmp.PayloadType, body []byte) (payloads, error) {
	var ps payloads
	d := isakmp.NewPayloadDecoder(first, body)
	hashEnd, i := -1, 0
	off := 0
	for d.Next() {
		pl := d.Payload()
		off += len(pl.Raw)
		switch pl.Type {
		case isakmp.PayloadSA:
			ps.sa = pl.Body
		case isakmp.PayloadKE:
			ps.ke = pl.Body
		case isakmp.PayloadNonce:
			if len(pl.Body) < isakmp.MinNonceLen || len(pl.Body) > isakmp.MaxNonceLen {
				return ps, &notifyError{isakmp.NotifyPayloadMalformed, fmt.Errorf("nonce of %d octets", len(pl.Body))}
			}
			ps.nonce = pl.Body
		case isakmp.PayloadHash:
			if ps.hash == nil {
				ps.hash = pl.Body
				if i == 0 {
					ps.firstHash, hashEnd = true, off
				}
			}
		case isakmp.PayloadID:
			if _, err := isakmp.ParseID(pl.Body); err != nil {
				return ps, &notifyError{isakmp.NotifyInvalidIDInformation, err}
			}
			ps.ids = append(ps.ids, pl.Body)
		case isakmp.PayloadVendorID:
			ps.vids = append(ps.vids, pl.Body)
		case isakmp.PayloadNotify:
			nt, err := isakmp.ParseNotification(pl.Body)
			if err != nil {
				return ps, &notifyError{isakmp.NotifyPayloadMalformed, err}
			}
			ps.notifies = append(ps.notifies, nt)
		case isakmp.PayloadDelete:
			dl, err := isakmp.ParseDelete(pl.Body)
			if err != nil {
				return ps, &notifyError{isakmp.NotifyPayloadMalformed, err}
			}
			ps.deletes = append(ps.deletes, dl)
		case isakmp.PayloadNATD, isakmp.PayloadNATDDraft:
			ps.natd = append(ps.natd, pl.Body)
		case isakmp.PayloadAttr:
			if ps.attr == nil {
				ps.attr = pl.Body
			}
		case isakmp.PayloadNATOA, isakmp.PayloadNATOADraft:
			if len(ps.natoa) < 3 {
				ps.natoa = append(ps.natoa, pl.Body)
			}
		case isakmp.PayloadCert:
			if len(pl.Body) < 2 || len(pl.Body) > 1+maxCertLen || len(ps.certs) == maxCerts {
				return ps, &notifyError{isakmp.NotifyInvalidCertificate, fmt.Errorf("certificate payload of %d octets (%d before it)", len(pl.Body), len(ps.certs))}
			}
			ps.certs = append(ps.certs, pl.Body)
		case isakmp.PayloadSig:
			if ps.sig == nil {
				ps.sig = pl.Body
			}
		case isakmp.PayloadCR:
			// We send our certificate whatever the peer asks for: a
			// request's CA names are not kept.
			ps.crs++
		default:
			return ps, &notifyError{isakmp.NotifyInvalidPayloadType, fmt.Errorf("payload type %d", pl.Type)}
		}
		i++
	}
	if err := d.Err(); err != nil {
		return ps, &notifyError{isakmp.NotifyPayloadMalformed, err}
	}
	if hashEnd >= 0 {
		ps.afterHash = body[hashEnd:off]
	}
	return ps, nil
}

func (ps *payloads) hasVID(v []byte) bool {
	for _, x := range ps.vids {
		if isakmp.VendorName(x) != "" && isakmp.VendorName(x) == isakmp.VendorName(v) {
			return true
		}
	}
	return false
}
