package radius

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// The accounting spool keeps one file per accounted session: what is
// still to be sent of its Start, its latest Interim-Update and its Stop,
// with the session's attributes and last known counters, so that the
// records survive a RADIUS outage and a restart or crash of the daemon
// (RFC 2866 §2: the client retries until it gets an Accounting-Response).
// A file is written (to a temporary name, fsync'd, renamed, the
// directory fsync'd) before the record it holds is sent, rewritten when a
// record is acknowledged, and removed with the Stop's acknowledgement.
//
// File layout (big-endian):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                 magic "VPAS"                                  |
//	+---------------+---------------+-------------------------------+
//	|  version (1)  |     flags     |        length of fields       |
//	+---------------+---------------+-------------------------------+
//	|                 CRC-32 (IEEE) of the fields                   |
//	+---------------------------------------------------------------+
//	|  fields: type (1), length (2), value ...                      |
//
// Every field at most once; the attribute fields hold RADIUS attributes
// (type, length, value) as they go into the Accounting-Request.
const (
	spoolMagic   = "VPAS"
	spoolVersion = 1
	spoolHeader  = 12
	spoolExt     = ".acct"
	// maxSpoolFile bounds one file: a session's three attribute sets.
	maxSpoolFile = 3*4096 + 1024
)

// Spool entry flags: what is still to be sent.
const (
	flagStart   = 1 << iota // the Start is not acknowledged yet
	flagInterim             // an Interim-Update is waiting
	flagStop                // the Stop is waiting
	// flagSystem marks a system record (RFC 2866 §5.1): its Start slot
	// is an Accounting-On, its Stop slot an Accounting-Off; the file goes
	// when the record is acknowledged.
	flagSystem
	flagAll = flagStart | flagInterim | flagStop
)

// Field types of a spool file.
const (
	fieldID        = 1 // Acct-Session-Id
	fieldGroup     = 2 // the server group the records go to
	fieldBase      = 3 // the session's attributes
	fieldStartAt   = 4 // unix nanoseconds
	fieldInterim   = 5 // the latest Interim-Update's counters
	fieldInterimAt = 6
	fieldStop      = 7 // the Stop's counters and cause
	fieldStopAt    = 8
	fieldSeq       = 9 // order of the sessions' Starts
)

// spoolEntry is one session's file.
type spoolEntry struct {
	ID, Group    string
	Flags        uint8
	Base         []byte
	StartAt      int64
	Interim      []byte
	InterimAt    int64
	Stop         []byte
	StopAt       int64
	Seq          uint64
	size         int  // of the file on disk
	busy, queued bool // a worker holds it; it is in the queue
	attempts     int  // sends of the current record
}

func appendField(b []byte, t byte, v []byte) []byte {
	b = append(b, t)
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

func appendInt(b []byte, t byte, v uint64) []byte {
	return appendField(b, t, binary.BigEndian.AppendUint64(nil, v))
}

// encode returns the file's bytes.
func (e *spoolEntry) encode() ([]byte, error) {
	if e.ID == "" || len(e.ID) > 253 || len(e.Group) > 253 {
		return nil, errors.New("radius: spool: bad session id or group")
	}
	for _, a := range [][]byte{e.Base, e.Interim, e.Stop} {
		if len(a) > 4096 {
			return nil, errors.New("radius: spool: attributes too long")
		}
	}
	var f []byte
	f = appendField(f, fieldID, []byte(e.ID))
	f = appendField(f, fieldGroup, []byte(e.Group))
	f = appendField(f, fieldBase, e.Base)
	f = appendInt(f, fieldStartAt, uint64(e.StartAt))
	f = appendInt(f, fieldSeq, e.Seq)
	if e.Interim != nil {
		f = appendField(f, fieldInterim, e.Interim)
		f = appendInt(f, fieldInterimAt, uint64(e.InterimAt))
	}
	if e.Stop != nil {
		f = appendField(f, fieldStop, e.Stop)
		f = appendInt(f, fieldStopAt, uint64(e.StopAt))
	}
	b := make([]byte, 0, spoolHeader+len(f))
	b = append(b, spoolMagic...)
	b = append(b, spoolVersion, e.Flags)
	b = binary.BigEndian.AppendUint16(b, uint16(len(f)))
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(f))
	return append(b, f...), nil
}

// decodeSpoolEntry parses a spool file; anything but a well-formed,
// checksummed file of this version is an error.
func decodeSpoolEntry(b []byte) (*spoolEntry, error) {
	if len(b) < spoolHeader {
		return nil, fmt.Errorf("radius: spool: %d octets, shorter than the header", len(b))
	}
	if string(b[:4]) != spoolMagic {
		return nil, errors.New("radius: spool: bad magic")
	}
	if b[4] != spoolVersion {
		return nil, fmt.Errorf("radius: spool: version %d, want %d", b[4], spoolVersion)
	}
	e := &spoolEntry{Flags: b[5], size: len(b)}
	if e.Flags&^(flagAll|flagSystem) != 0 {
		return nil, fmt.Errorf("radius: spool: unknown flags %#x", e.Flags)
	}
	n := int(binary.BigEndian.Uint16(b[6:8]))
	if spoolHeader+n != len(b) {
		return nil, fmt.Errorf("radius: spool: fields of %d octets in a file of %d", n, len(b))
	}
	f := b[spoolHeader:]
	if crc32.ChecksumIEEE(f) != binary.BigEndian.Uint32(b[8:12]) {
		return nil, errors.New("radius: spool: checksum mismatch")
	}
	var seen uint32
	for len(f) > 0 { // each pass consumes at least 3 octets
		if len(f) < 3 {
			return nil, errors.New("radius: spool: truncated field header")
		}
		t, l := f[0], int(binary.BigEndian.Uint16(f[1:3]))
		if len(f) < 3+l {
			return nil, fmt.Errorf("radius: spool: field %d of %d octets past the end", t, l)
		}
		v := f[3 : 3+l]
		f = f[3+l:]
		if t == 0 || t > fieldSeq {
			return nil, fmt.Errorf("radius: spool: unknown field %d", t)
		}
		if seen&(1<<t) != 0 {
			return nil, fmt.Errorf("radius: spool: field %d twice", t)
		}
		seen |= 1 << t
		switch t {
		case fieldID, fieldGroup:
			if l > 253 {
				return nil, fmt.Errorf("radius: spool: field %d of %d octets", t, l)
			}
			if t == fieldID {
				e.ID = string(v)
			} else {
				e.Group = string(v)
			}
		case fieldBase, fieldInterim, fieldStop:
			if err := checkAttributes(v); err != nil {
				return nil, fmt.Errorf("radius: spool: field %d: %w", t, err)
			}
			a := append(make([]byte, 0, len(v)), v...)
			switch t {
			case fieldBase:
				e.Base = a
			case fieldInterim:
				e.Interim = a
			default:
				e.Stop = a
			}
		case fieldStartAt, fieldInterimAt, fieldStopAt, fieldSeq:
			if l != 8 {
				return nil, fmt.Errorf("radius: spool: field %d of %d octets, want 8", t, l)
			}
			x := binary.BigEndian.Uint64(v)
			switch t {
			case fieldStartAt:
				e.StartAt = int64(x)
			case fieldInterimAt:
				e.InterimAt = int64(x)
			case fieldStopAt:
				e.StopAt = int64(x)
			default:
				e.Seq = x
			}
		}
	}
	for _, t := range []byte{fieldID, fieldGroup, fieldBase, fieldStartAt, fieldSeq} {
		if seen&(1<<t) == 0 {
			return nil, fmt.Errorf("radius: spool: field %d missing", t)
		}
	}
	if e.ID == "" {
		return nil, errors.New("radius: spool: empty session id")
	}
	if (e.Interim == nil) != (seen&(1<<fieldInterimAt) == 0) || (e.Stop == nil) != (seen&(1<<fieldStopAt) == 0) {
		return nil, errors.New("radius: spool: counters without their time, or a time without counters")
	}
	if e.Flags&flagInterim != 0 && e.Interim == nil || e.Flags&flagStop != 0 && e.Stop == nil {
		return nil, errors.New("radius: spool: a pending record without its attributes")
	}
	return e, nil
}

// checkAttributes checks that b is a chain of RADIUS attributes (RFC 2865
// §5: type, length of at least 2, value).
func checkAttributes(b []byte) error {
	for len(b) > 0 { // each pass consumes at least 2 octets
		if len(b) < 2 {
			return errors.New("truncated attribute")
		}
		l := int(b[1])
		if l < 2 || l > len(b) {
			return fmt.Errorf("attribute %d of length %d in %d octets", b[0], l, len(b))
		}
		b = b[l:]
	}
	return nil
}

// SpoolLimits bounds a spool.
type SpoolLimits struct {
	// Records is the most sessions the spool holds (0: 100,000); Bytes
	// the most octets of files (0: 64 MiB). A Start beyond either is
	// refused and counted; the Interim-Updates and Stop of a session
	// already in the spool are always kept.
	Records int
	Bytes   int64
}

// spoolDir is the directory of a spool, with its durable writes.
type spoolDir struct {
	dir string
	mu  sync.Mutex // serialises directory syncs
}

func spoolName(id string) string {
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:16]) + spoolExt
}

// write stores b as the file of id: a temporary file, fsync'd, renamed
// over the old one, then the directory fsync'd.
func (d *spoolDir) write(id string, b []byte) error {
	name := filepath.Join(d.dir, spoolName(id))
	tmp, err := os.CreateTemp(d.dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("radius: spool: %w", err)
	}
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), name)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("radius: spool: %w", err)
	}
	return d.sync()
}

func (d *spoolDir) remove(id string) error {
	if err := os.Remove(filepath.Join(d.dir, spoolName(id))); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("radius: spool: %w", err)
	}
	return d.sync()
}

func (d *spoolDir) sync() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	f, err := os.Open(d.dir)
	if err != nil {
		return fmt.Errorf("radius: spool: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("radius: spool: sync directory: %w", err)
	}
	return nil
}

// load reads every spool file of the directory: temporary files left by
// a crash are removed, files that do not decode are renamed *.bad (kept
// for an operator, counted) and skipped.
func (d *spoolDir) load() (entries []*spoolEntry, bad int, err error) {
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		return nil, 0, fmt.Errorf("radius: spool: %w", err)
	}
	des, err := os.ReadDir(d.dir)
	if err != nil {
		return nil, 0, fmt.Errorf("radius: spool: %w", err)
	}
	for _, de := range des {
		name := de.Name()
		path := filepath.Join(d.dir, name)
		switch {
		case strings.HasPrefix(name, ".tmp-"):
			_ = os.Remove(path)
			continue
		case !strings.HasSuffix(name, spoolExt) || !de.Type().IsRegular():
			continue
		}
		b, err := readBounded(path, maxSpoolFile)
		var e *spoolEntry
		if err == nil {
			e, err = decodeSpoolEntry(b)
		}
		if err == nil && spoolName(e.ID) != name {
			err = errors.New("radius: spool: file name does not match the session id")
		}
		if err != nil {
			bad++
			_ = os.Rename(path, path+".bad")
			continue
		}
		entries = append(entries, e)
	}
	return entries, bad, nil
}

func readBounded(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > max {
		return nil, fmt.Errorf("radius: spool: %s: %d octets", path, st.Size())
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil, err
	}
	return b, nil
}
