package aaa

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/vpdn/vpdn/aaa/mschap"
)

// Reasons of a rejection, for logs and `show vpdn history failure`.
const (
	ReasonNoSuchUser        = "no such user"
	ReasonBadPassword       = "bad password"
	ReasonMalformed         = "malformed response"
	ReasonUnsupportedMethod = "unsupported authentication method"
	ReasonLMOnly            = "MS-CHAP response without NT response"
	ReasonAuthorization     = "authorization failed"
)

// MessageFailure is the text sent to the peer in a PAP Nak or CHAP Failure.
// It is the same for an unknown user and a bad password, so that the peer
// cannot tell which names exist.
const MessageFailure = "Authentication failed"

// Domain is the policy for users whose name carries a domain
// ("user@domain"): seed document 002 assigns each domain its own pool.
type Domain struct {
	Name string
	// Pool for the domain's users that have no pool or address of their own.
	Pool string
	// Authz holds default attributes (routes, DNS, NBNS, timeouts) for the
	// domain's users; a user's own non-zero attributes win.
	Authz Authorization
}

// DomainOptions says how user names are split into user and domain.
type DomainOptions struct {
	// Delimiter separates user and domain; 0 means '@'. The name is split
	// at its last delimiter.
	Delimiter byte
	// Strip looks users up by the part before the delimiter; otherwise by
	// the full name as presented.
	Strip   bool
	Domains []Domain
}

// LocalConfig configures the local backend.
type LocalConfig struct {
	Users   []User
	Domains DomainOptions
	Logger  *slog.Logger // may be nil
	// Lockout, if set, locks users that fail too often (`aaa local
	// authentication attempts max-fail`); it outlives the Local.
	Lockout *Lockout
}

type localUser struct {
	User
	ntHash mschap.PasswordHash
}

// Local is the backend of the `local` method: the `username` database in
// the configuration. It is immutable once built and safe for concurrent
// use; a configuration reload builds a new one.
type Local struct {
	exact   map[string]*localUser // by name as configured (`local-case`)
	folded  map[string]*localUser // by lower-case name (`local`)
	delim   byte
	strip   bool
	domains map[string]*Domain
	log     *slog.Logger
	lockout *Lockout
}

// NewLocal builds the local backend. Names must be non-empty and unique.
func NewLocal(cfg LocalConfig) (*Local, error) {
	l := &Local{
		exact:   make(map[string]*localUser, len(cfg.Users)),
		folded:  make(map[string]*localUser, len(cfg.Users)),
		delim:   cfg.Domains.Delimiter,
		strip:   cfg.Domains.Strip,
		domains: make(map[string]*Domain, len(cfg.Domains.Domains)),
		log:     cfg.Logger,
		lockout: cfg.Lockout,
	}
	if l.delim == 0 {
		l.delim = '@'
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	for i := range cfg.Users {
		u := cfg.Users[i]
		if u.Name == "" || len(u.Name) > maxNameLen {
			return nil, fmt.Errorf("aaa: user %d: name must be 1 to %d octets", i, maxNameLen)
		}
		if u.Password == "" {
			// PAP would accept an empty password; refuse the user instead.
			return nil, fmt.Errorf("aaa: user %q has an empty password", u.Name)
		}
		if _, dup := l.exact[u.Name]; dup {
			return nil, fmt.Errorf("aaa: user %q configured twice", u.Name)
		}
		if u.Address.IsValid() && !u.Address.Is4() {
			return nil, fmt.Errorf("aaa: user %q: address %v is not IPv4", u.Name, u.Address)
		}
		lu := &localUser{User: u, ntHash: mschap.NTPasswordHash(u.Password)}
		l.exact[u.Name] = lu
		if _, seen := l.folded[strings.ToLower(u.Name)]; !seen {
			l.folded[strings.ToLower(u.Name)] = lu
		}
	}
	for i := range cfg.Domains.Domains {
		d := cfg.Domains.Domains[i]
		if d.Name == "" || len(d.Name) > maxNameLen {
			return nil, fmt.Errorf("aaa: domain %d: name must be 1 to %d octets", i, maxNameLen)
		}
		key := strings.ToLower(d.Name)
		if _, dup := l.domains[key]; dup {
			return nil, fmt.Errorf("aaa: domain %q configured twice", d.Name)
		}
		l.domains[key] = &d
	}
	return l, nil
}

// split returns the name to look up and the domain of a presented name.
func (l *Local) split(presented string) (lookup, domain string) {
	i := strings.LastIndexByte(presented, l.delim)
	if i < 0 {
		return presented, ""
	}
	domain = presented[i+1:]
	if l.strip {
		return presented[:i], domain
	}
	return presented, domain
}

func (l *Local) find(name string, caseSensitive bool) *localUser {
	if caseSensitive {
		return l.exact[name]
	}
	if u := l.exact[name]; u != nil {
		return u
	}
	return l.folded[strings.ToLower(name)]
}

// Authenticate implements Authenticator with the IOS `local` method: user
// names match without regard to case.
func (l *Local) Authenticate(ctx context.Context, req *Request) (*Result, error) {
	return l.authenticate(req, false), nil
}

// AuthenticateCase is the `local-case` method: user names match exactly.
func (l *Local) AuthenticateCase(ctx context.Context, req *Request) (*Result, error) {
	return l.authenticate(req, true), nil
}

func (l *Local) authenticate(req *Request, caseSensitive bool) *Result {
	lookup, domain := l.split(req.Username)
	u := l.find(lookup, caseSensitive)
	if u == nil && (req.Method == MSCHAPv1 || req.Method == MSCHAPv2) {
		// Windows peers may prepend their NT domain, "BIGCO\johndoe"
		// (RFC 2433 §6); the response is computed without it.
		if bare := mschap.StripDomain(lookup); bare != lookup {
			u = l.find(bare, caseSensitive)
		}
	}
	if u == nil {
		r := l.reject(req, ReasonNoSuchUser)
		l.log.Debug("aaa: local reject", "user", req.Username, "method", req.Method, "reason", r.Reason)
		return r
	}
	if l.lockout != nil && l.lockout.isLocked(u.Name) {
		// Locked out: refused without a look at the credentials.
		l.log.Debug("aaa: local reject", "user", req.Username, "method", req.Method, "reason", ReasonLocked)
		return l.reject(req, ReasonLocked)
	}
	r := &Result{}
	reason := l.verify(u, req, r)
	if reason != "" {
		if l.lockout != nil && l.lockout.failed(u.Name) {
			l.log.Info("aaa: local user locked out", "user", u.Name)
		}
		rej := l.reject(req, reason)
		l.log.Debug("aaa: local reject", "user", req.Username, "method", req.Method, "reason", reason)
		return rej
	}
	if l.lockout != nil {
		l.lockout.succeeded(u.Name)
	}
	r.Accept = true
	r.Authz = l.authorization(u, domain)
	return r
}

func (l *Local) reject(req *Request, reason string) *Result { return rejectFor(req, reason) }

// rejectFor builds a rejection with the peer-facing texts of the method.
func rejectFor(req *Request, reason string) *Result {
	r := &Result{Reason: reason, Message: MessageFailure}
	switch req.Method {
	case MSCHAPv2:
		if len(req.Challenge) == mschap.ChallengeLenV2 {
			r.MSCHAPError = mschap.FailureV2(mschap.ErrorAuthenticationFailure, req.Challenge)
		} else {
			r.MSCHAPError = fmt.Sprintf("E=%d R=0 V=3", mschap.ErrorAuthenticationFailure)
		}
		r.Message = r.MSCHAPError
	case MSCHAPv1:
		r.MSCHAPError = mschap.FailureV1(mschap.ErrorAuthenticationFailure)
		r.Message = r.MSCHAPError
	}
	return r
}

// verify checks the credentials of req against u, filling the MS-CHAP
// fields of r on success. It returns the reason of a rejection, or "".
func (l *Local) verify(u *localUser, req *Request, r *Result) string {
	switch req.Method {
	case PAP:
		// Compare digests so that neither content nor length leaks.
		a, b := sha256.Sum256([]byte(u.Password)), sha256.Sum256(req.Password)
		if subtle.ConstantTimeCompare(a[:], b[:]) != 1 {
			return ReasonBadPassword
		}
		return ""
	case CHAP, EAPMD5:
		// RFC 1994 §4.1 and RFC 3748 §5.4: MD5(Identifier | secret | challenge).
		if len(req.Response) != md5.Size || len(req.Challenge) == 0 {
			return ReasonMalformed
		}
		want := CHAPResponse(req.ID, u.Password, req.Challenge)
		if subtle.ConstantTimeCompare(want[:], req.Response) != 1 {
			return ReasonBadPassword
		}
		return ""
	case MSCHAPv1:
		ok, _, err := mschap.VerifyV1(req.Challenge, req.Response, u.ntHash)
		switch {
		case errors.Is(err, mschap.ErrLMOnly):
			return ReasonLMOnly
		case err != nil:
			return ReasonMalformed
		case !ok:
			return ReasonBadPassword
		}
		// RFC 3079 §2.4: one start key, used in both directions.
		k, err := mschap.V1StartKey(u.ntHash.Hash(), req.Challenge)
		if err != nil {
			return ReasonMalformed
		}
		r.MPPESendKey, r.MPPERecvKey = k[:], append([]byte(nil), k[:]...)
		return ""
	case MSCHAPv2:
		// The challenge hash uses the name as the peer presented it.
		ok, s, resp, err := mschap.VerifyV2(req.Challenge, req.Response, req.Username, u.ntHash)
		switch {
		case err != nil:
			return ReasonMalformed
		case !ok:
			return ReasonBadPassword
		}
		send, recv, err := mschap.V2Keys(u.ntHash, resp.NTResponse[:])
		if err != nil {
			return ReasonMalformed
		}
		r.MSCHAPv2Success = s
		r.MPPESendKey, r.MPPERecvKey = send, recv
		return ""
	}
	return ReasonUnsupportedMethod
}

// CHAPResponse is the CHAP-MD5 response value of RFC 1994 §4.1,
// MD5(Identifier | secret | Challenge), also used by EAP-MD5 (RFC 3748
// §5.4). A peer sends it; the authenticator compares it.
func CHAPResponse(id uint8, secret string, challenge []byte) [md5.Size]byte {
	h := md5.New()
	h.Write([]byte{id})
	h.Write([]byte(secret))
	h.Write(challenge)
	var sum [md5.Size]byte
	h.Sum(sum[:0])
	return sum
}

// authorization fills the Authorization of an accepted user: the user's own
// attributes, then the domain's pool and defaults where the user has none.
func (l *Local) authorization(u *localUser, domain string) Authorization {
	a := u.Authz
	a.Routes = slices.Clone(a.Routes)
	a.DNS = slices.Clone(a.DNS)
	a.NBNS = slices.Clone(a.NBNS)
	a.Username = u.Name
	a.Domain = domain
	a.Address = u.Address
	a.Pool = u.Pool
	if d := l.domains[strings.ToLower(domain)]; domain != "" && d != nil {
		if a.Pool == "" && !a.Address.IsValid() {
			a.Pool = d.Pool
		}
		mergeDefaults(&a, &d.Authz)
	}
	return a
}

// mergeDefaults copies into a the attributes of def that a leaves zero.
func mergeDefaults(a, def *Authorization) {
	if a.Routes == nil {
		a.Routes = slices.Clone(def.Routes)
	}
	if a.DNS == nil {
		a.DNS = slices.Clone(def.DNS)
	}
	if a.NBNS == nil {
		a.NBNS = slices.Clone(def.NBNS)
	}
	if a.SessionTimeout == 0 {
		a.SessionTimeout = def.SessionTimeout
	}
	if a.IdleTimeout == 0 {
		a.IdleTimeout = def.IdleTimeout
	}
}

// Authorize looks up the network authorization of a user without checking
// credentials: the `local` method of `aaa authorization network`. The name
// is the one presented; ok is false for an unknown user.
func (l *Local) Authorize(username string, caseSensitive bool) (Authorization, bool) {
	lookup, domain := l.split(username)
	u := l.find(lookup, caseSensitive)
	if u == nil {
		return Authorization{}, false
	}
	return l.authorization(u, domain), true
}
