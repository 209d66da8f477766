package aaa

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
)

// Authorizer is implemented by server groups that can authorize a user
// without authenticating again (`aaa authorization network LIST group X`
// after authentication by another method). req is the authentication's
// request, for the session's attributes; found false is a refusal.
type Authorizer interface {
	Authorize(ctx context.Context, req *Request) (a Authorization, found bool, err error)
}

// ServiceConfig configures a Service.
type ServiceConfig struct {
	// Lists are the `aaa authentication ppp` and `aaa authorization
	// network` commands; a later command with the same type and name
	// replaces an earlier one, as in IOS.
	Lists []ListCommand
	// Local is the username database of the `local` methods; nil if none.
	Local *Local
	// Groups are the server groups of `group NAME` methods (later: radius).
	Groups map[string]Authenticator
	// History records final rejections for `show vpdn history failure`;
	// may be nil.
	History *FailureHistory
	// Throttle, if set, delays and blocks repeated failures and logs
	// them; it outlives the Service.
	Throttle *Throttle
	Logger   *slog.Logger // may be nil
}

// Service walks IOS method lists. It is immutable once built and safe for
// concurrent use.
//
// Semantics, after IOS: the methods of a list are tried in order, and the
// next one only when a method could not decide (an error: server group
// unreachable or missing, no local database). A rejection ends the walk.
// `none` accepts. When every method errs, the error is returned.
type Service struct {
	authn    map[string][]ListMethod
	authz    map[string][]ListMethod
	local    *Local
	groups   map[string]Authenticator
	history  *FailureHistory
	throttle *Throttle
	log      *slog.Logger
}

// NewService builds a Service. It refuses a list that IOS would refuse: an
// unknown list type, no name, no methods or more than four, an unknown
// method, a method listed twice, a method after `none`, `group` without a
// group name.
func NewService(cfg ServiceConfig) (*Service, error) {
	s := &Service{
		authn:    map[string][]ListMethod{},
		authz:    map[string][]ListMethod{},
		local:    cfg.Local,
		groups:   cfg.Groups,
		history:  cfg.History,
		throttle: cfg.Throttle,
		log:      cfg.Logger,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for _, c := range cfg.Lists {
		if err := c.check(); err != nil {
			return nil, err
		}
		methods := slices.Clone(c.Methods)
		switch c.Type {
		case AuthenticationPPP:
			s.authn[c.Name] = methods
		case AuthorizationNetwork:
			s.authz[c.Name] = methods
		}
	}
	return s, nil
}

// errNoLocal is the error of a local method without a username database.
var errNoLocal = errors.New("aaa: no local username database")

// Authenticate authenticates req with the authentication list authnList and,
// on acceptance, authorizes it with authzList ("" means default for both).
// When no authorization list applies — authzList empty and no default
// configured — the authorization the authenticating method returned is
// kept. A named list that does not exist is ErrNoBackend.
func (s *Service) Authenticate(ctx context.Context, authnList, authzList string, req *Request) (*Result, error) {
	name := authnList
	if name == "" {
		name = DefaultList
	}
	methods, ok := s.authn[name]
	if !ok {
		return nil, fmt.Errorf("%w: authentication ppp %q", ErrNoBackend, name)
	}
	if s.throttle != nil {
		if hold, blocked := s.throttle.Check(req); blocked {
			r := rejectFor(req, ReasonThrottled)
			r.Hold = hold
			if s.history != nil {
				s.history.Record(req, r.Reason)
			}
			return r, nil
		}
	}
	var r *Result
	var by ListMethod
	var errs []error
	for _, m := range methods {
		res, err := s.authenticateWith(ctx, m, req)
		if err != nil {
			s.log.Warn("aaa: method failed, trying the next", "list", name, "method", m.String(), "user", req.Username, "err", err)
			errs = append(errs, fmt.Errorf("%v: %w", m, err))
			continue
		}
		r, by = res, m
		break
	}
	if r == nil {
		return nil, fmt.Errorf("aaa: authentication ppp %s: every method failed: %w", name, errors.Join(errs...))
	}
	if r.Challenge {
		// An EAP pass-through step: neither a failure nor a success yet.
		return r, nil
	}
	if r.Accept {
		if err := s.authorize(ctx, authzList, by, req, r); err != nil {
			return nil, err
		}
	}
	if !r.Accept && s.history != nil {
		s.history.Record(req, r.Reason)
	}
	if s.throttle != nil {
		if r.Accept {
			s.throttle.Succeeded(req)
		} else {
			r.Hold = max(r.Hold, s.throttle.Failed(req, r.Reason))
		}
	}
	return r, nil
}

// errEAPRelay is the error of a method that cannot relay EAP.
var errEAPRelay = errors.New("aaa: EAP pass-through needs a server group")

func (s *Service) authenticateWith(ctx context.Context, m ListMethod, req *Request) (*Result, error) {
	if req.EAPMessage != nil && m.Kind != MethodGroup {
		return nil, errEAPRelay
	}
	switch m.Kind {
	case MethodLocal, MethodLocalCase:
		if s.local == nil {
			return nil, errNoLocal
		}
		return s.local.authenticate(req, m.Kind == MethodLocalCase), nil
	case MethodNone:
		lookup, domain := req.Username, ""
		if s.local != nil {
			_, domain = s.local.split(req.Username)
		}
		return &Result{Accept: true, Authz: Authorization{Username: lookup, Domain: domain}}, nil
	case MethodGroup:
		g := s.groups[m.Group]
		if g == nil {
			return nil, fmt.Errorf("aaa: server group %q not configured", m.Group)
		}
		r, err := g.Authenticate(ctx, req)
		if err == nil && r == nil {
			err = fmt.Errorf("aaa: server group %q returned no result", m.Group)
		}
		return r, err
	}
	return nil, fmt.Errorf("aaa: unknown method %v", m)
}

// authorize runs the authorization list over an accepted result. A
// rejection by authorization turns r into a rejection.
func (s *Service) authorize(ctx context.Context, list string, by ListMethod, req *Request, r *Result) error {
	name := list
	if name == "" {
		name = DefaultList
	}
	methods, ok := s.authz[name]
	if !ok {
		if list == "" {
			return nil // no `aaa authorization network default`
		}
		return fmt.Errorf("%w: authorization network %q", ErrNoBackend, name)
	}
	user := r.Authz.Username
	if user == "" {
		user = req.Username
	}
	var errs []error
	for _, m := range methods {
		a, found, err := s.authorizeWith(ctx, m, by, req, r)
		if err != nil {
			s.log.Warn("aaa: authorization method failed, trying the next", "list", name, "method", m.String(), "user", user, "err", err)
			errs = append(errs, fmt.Errorf("%v: %w", m, err))
			continue
		}
		if !found {
			*r = *rejectFor(req, ReasonAuthorization)
			return nil
		}
		r.Authz = a
		return nil
	}
	return fmt.Errorf("aaa: authorization network %s: every method failed: %w", name, errors.Join(errs...))
}

func (s *Service) authorizeWith(ctx context.Context, m ListMethod, by ListMethod, req *Request, r *Result) (Authorization, bool, error) {
	switch m.Kind {
	case MethodLocal, MethodLocalCase:
		if s.local == nil {
			return Authorization{}, false, errNoLocal
		}
		a, ok := s.local.Authorize(req.Username, m.Kind == MethodLocalCase)
		return a, ok, nil
	case MethodNone:
		return Authorization{Username: r.Authz.Username, Domain: r.Authz.Domain}, true, nil
	case MethodGroup:
		if by == m {
			// The server group answered authentication with the
			// attributes already (RADIUS Access-Accept).
			return r.Authz, true, nil
		}
		g := s.groups[m.Group]
		if g == nil {
			return Authorization{}, false, fmt.Errorf("aaa: server group %q not configured", m.Group)
		}
		az, ok := g.(Authorizer)
		if !ok {
			return Authorization{}, false, fmt.Errorf("aaa: server group %q cannot authorize alone", m.Group)
		}
		a, found, err := az.Authorize(ctx, req)
		if err == nil && found {
			// The user authenticated by another method: Acct-Authentic
			// says which (RFC 2866 §5.6), not the server that authorized.
			a.Authentic = r.Authz.Authentic
		}
		return a, found, err
	}
	return Authorization{}, false, fmt.Errorf("aaa: unknown method %v", m)
}

// Bind returns an Authenticator that uses the named lists, for an interface
// configured with `ppp authentication chap LIST` and `ppp authorization
// LIST` ("" for default).
func (s *Service) Bind(authnList, authzList string) Authenticator {
	return boundService{s, authnList, authzList}
}

type boundService struct {
	s            *Service
	authn, authz string
}

func (b boundService) Authenticate(ctx context.Context, req *Request) (*Result, error) {
	return b.s.Authenticate(ctx, b.authn, b.authz, req)
}

// RelaysEAP reports whether the authentication list starts with a server
// group: EAP is then passed through to it (RFC 3579), as IOS does for
// `ppp authentication eap` with `group radius`; otherwise this end checks
// EAP-MD5 itself.
func (b boundService) RelaysEAP() bool { return b.s.RelaysEAP(b.authn) }

// RelaysEAP reports whether the named authentication list ("" for
// default) starts with a server group.
func (s *Service) RelaysEAP(authnList string) bool {
	if authnList == "" {
		authnList = DefaultList
	}
	m := s.authn[authnList]
	return len(m) > 0 && m[0].Kind == MethodGroup
}
