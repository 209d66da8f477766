package aaa

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// Method list values as the daemon builds them from config's model.
var (
	mLocal     = ListMethod{Kind: MethodLocal}
	mLocalCase = ListMethod{Kind: MethodLocalCase}
	mNone      = ListMethod{Kind: MethodNone}
)

func mGroup(name string) ListMethod { return ListMethod{Kind: MethodGroup, Group: name} }

func authn(name string, ms ...ListMethod) ListCommand {
	return ListCommand{Type: AuthenticationPPP, Name: name, Methods: ms}
}

func authz(name string, ms ...ListMethod) ListCommand {
	return ListCommand{Type: AuthorizationNetwork, Name: name, Methods: ms}
}

// TestServiceListChecks holds NewService to the rules IOS applies to a
// method list.
func TestServiceListChecks(t *testing.T) {
	for _, tc := range []struct {
		name string
		cmd  ListCommand
		ok   bool
		want string // type|name|methods
	}{
		{"local", authn("default", mLocal), true, "authentication ppp|default|local"},
		{"local none", authn("VPDN", mLocal, mNone), true, "authentication ppp|VPDN|local,none"},
		{"group local-case none", authn("L", mGroup("radius"), mLocalCase, mNone), true, "authentication ppp|L|group radius,local-case,none"},
		{"authorization", authz("default", mLocal), true, "authorization network|default|local"},
		{"authorization group local", authz("x", mGroup("radius"), mLocal), true, "authorization network|x|group radius,local"},
		{"four methods", authn("F", mGroup("a"), mGroup("b"), mLocal, mNone), true, "authentication ppp|F|group a,group b,local,none"},
		{"longest name", authn(strings.Repeat("n", 253), mLocal), true, "authentication ppp|" + strings.Repeat("n", 253) + "|local"},
		{"no methods", authn("default"), false, ""},
		{"unknown type", ListCommand{Type: ListType(9), Name: "default", Methods: []ListMethod{mLocal}}, false, ""},
		{"zero type", ListCommand{Name: "default", Methods: []ListMethod{mLocal}}, false, ""},
		{"duplicate", authn("default", mLocal, mLocal), false, ""},
		{"duplicate group", authn("default", mGroup("r"), mLocal, mGroup("r")), false, ""},
		{"after none", authn("default", mNone, mLocal), false, ""},
		{"none twice", authz("default", mNone, mNone), false, ""},
		{"group without name", authn("default", mGroup("")), false, ""},
		{"local with group name", authn("default", ListMethod{Kind: MethodLocal, Group: "r"}), false, ""},
		{"unknown method", authn("default", ListMethod{Kind: MethodKind(9)}), false, ""},
		{"zero method", authn("default", ListMethod{}), false, ""},
		{"five methods", authn("default", mGroup("a"), mGroup("b"), mGroup("c"), mLocal, mNone), false, ""},
		{"zero value", ListCommand{}, false, ""},
		{"empty name", authn("", mLocal), false, ""},
		{"long name", authn(strings.Repeat("n", 254), mLocal), false, ""},
	} {
		s, err := NewService(ServiceConfig{Lists: []ListCommand{tc.cmd}})
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "aaa: ") {
				t.Errorf("%s: error %v", tc.name, err)
			}
			continue
		}
		methods := s.authn[tc.cmd.Name]
		if tc.cmd.Type == AuthorizationNetwork {
			methods = s.authz[tc.cmd.Name]
		}
		var ms []string
		for _, m := range methods {
			ms = append(ms, m.String())
		}
		if got := tc.cmd.Type.String() + "|" + tc.cmd.Name + "|" + strings.Join(ms, ","); got != tc.want {
			t.Errorf("%s: got %q want %q", tc.name, got, tc.want)
		}
	}
}

// TestServiceOwnsLists: a Service is immutable once built, even if the
// caller reuses the slices it was built from.
func TestServiceOwnsLists(t *testing.T) {
	cmd := authn("default", mLocal)
	s, err := NewService(ServiceConfig{Lists: []ListCommand{cmd}, Local: testLocal(t)})
	if err != nil {
		t.Fatal(err)
	}
	cmd.Methods[0] = mNone
	if r, err := s.Authenticate(context.Background(), "", "", pap("nobody", "x")); err != nil || r.Accept || r.Reason != ReasonNoSuchUser {
		t.Errorf("list changed under the Service: %+v %v", r, err)
	}
}

// fakeGroup is a server group that errs, rejects or accepts.
type fakeGroup struct {
	err    error
	accept bool
	authz  Authorization
	calls  int
	mu     sync.Mutex
}

func (g *fakeGroup) Authenticate(ctx context.Context, req *Request) (*Result, error) {
	g.mu.Lock()
	g.calls++
	g.mu.Unlock()
	if g.err != nil {
		return nil, g.err
	}
	if !g.accept {
		return &Result{Reason: "group says no", Message: MessageFailure}, nil
	}
	return &Result{Accept: true, Authz: g.authz}, nil
}

func pap(user, pw string) *Request {
	return &Request{Method: PAP, Username: user, Password: []byte(pw), NASPort: "Vi3", TunnelName: "lac1"}
}

func TestServiceMethodLists(t *testing.T) {
	down := &fakeGroup{err: errors.New("radius: no server answered")}
	no := &fakeGroup{}
	yes := &fakeGroup{accept: true, authz: Authorization{Username: "x", Pool: "radius-pool"}}
	clock := time.Date(2026, 11, 21, 5, 30, 0, 0, time.UTC)
	hist := NewFailureHistory(10, func() time.Time { return clock })
	s, err := NewService(ServiceConfig{
		Lists: []ListCommand{
			authn("default", mLocal),
			authn("LN", mLocal, mNone),
			authn("DOWN", mGroup("down"), mLocal),
			authn("DOWNNONE", mGroup("down"), mNone),
			authn("ALLDOWN", mGroup("down"), mGroup("missing")),
			authn("NO", mGroup("no"), mLocal),
			authn("YES", mGroup("yes")),
			authn("CASE", mLocalCase),
		},
		Local:   testLocal(t),
		Groups:  map[string]Authenticator{"down": down, "no": no, "yes": yes},
		History: hist,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		list   string
		req    *Request
		accept bool
		reason string
		err    bool
	}{
		{"", pap("User", "clientPass"), true, "", false},
		{"default", pap("User", "bad"), false, ReasonBadPassword, false},
		{"", pap("nobody", "x"), false, ReasonNoSuchUser, false},
		// A local reject does not fall through to none.
		{"LN", pap("nobody", "x"), false, ReasonNoSuchUser, false},
		{"LN", pap("User", "clientPass"), true, "", false},
		// An error moves on to the next method.
		{"DOWN", pap("User", "clientPass"), true, "", false},
		{"DOWN", pap("User", "bad"), false, ReasonBadPassword, false},
		{"DOWNNONE", pap("anyone", "x"), true, "", false},
		{"ALLDOWN", pap("User", "clientPass"), false, "", true},
		// A group reject ends the walk: local is never asked.
		{"NO", pap("User", "clientPass"), false, "group says no", false},
		{"YES", pap("whoever", "x"), true, "", false},
		{"CASE", pap("user", "clientPass"), false, ReasonNoSuchUser, false},
		{"MISSING", pap("User", "clientPass"), false, "", true},
	} {
		r, err := s.Authenticate(ctx, tc.list, "", tc.req)
		if tc.err {
			if err == nil {
				t.Errorf("%s %s: no error: %+v", tc.list, tc.req.Username, r)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %s: %v", tc.list, tc.req.Username, err)
			continue
		}
		if r.Accept != tc.accept || r.Reason != tc.reason {
			t.Errorf("%s %s: accept %v reason %q", tc.list, tc.req.Username, r.Accept, r.Reason)
		}
	}
	if _, err := s.Authenticate(ctx, "MISSING", "", pap("a", "b")); !errors.Is(err, ErrNoBackend) {
		t.Errorf("missing list: %v", err)
	}
	if no.calls != 1 {
		t.Errorf("group no called %d times", no.calls)
	}
	// The failure history saw the final rejections.
	f, ok := hist.Get("User")
	if !ok || f.Count != 3 || f.Reason != "group says no" || f.NASPort != "Vi3" || f.TunnelName != "lac1" || !f.Last.Equal(clock) {
		t.Errorf("history of User: %+v %v", f, ok)
	}
	if f, _ := hist.Get("nobody"); f.Count != 2 || f.Reason != ReasonNoSuchUser {
		t.Errorf("history of nobody: %+v", f)
	}
	// Bound to lists, as PPP uses it.
	var a Authenticator = s.Bind("LN", "")
	if r, err := a.Authenticate(ctx, pap("User", "clientPass")); err != nil || !r.Accept {
		t.Errorf("bound: %+v %v", r, err)
	}
}

func TestServiceAuthorization(t *testing.T) {
	yes := &fakeGroup{accept: true, authz: Authorization{Username: "User", Pool: "radius-pool"}}
	s, err := NewService(ServiceConfig{
		Lists: []ListCommand{
			authn("default", mLocal),
			authn("R", mGroup("yes")),
			authn("N", mNone),
			authz("default", mLocal),
			authz("NONE", mNone),
			authz("R", mGroup("yes"), mLocal),
			authz("BAD", mGroup("yes")),
		},
		Local:  testLocal(t),
		Groups: map[string]Authenticator{"yes": yes},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Default authorization from local: the domain's pool.
	r, err := s.Authenticate(ctx, "", "", pap("User@sales", "clientPass"))
	if err != nil || !r.Accept || r.Authz.Pool != "sales-pool" {
		t.Errorf("local/local: %+v %v", r, err)
	}
	// Authorization none drops the attributes.
	r, _ = s.Authenticate(ctx, "", "NONE", pap("User@sales", "clientPass"))
	if !r.Accept || r.Authz.Pool != "" || r.Authz.Username != "User" || r.Authz.Domain != "sales" {
		t.Errorf("local/none: %+v", r.Authz)
	}
	// Authenticated by the group: its attributes stand.
	r, _ = s.Authenticate(ctx, "R", "R", pap("User", "x"))
	if !r.Accept || r.Authz.Pool != "radius-pool" {
		t.Errorf("group/group: %+v", r.Authz)
	}
	// Authenticated by none, authorized by local: an unknown user is refused.
	r, _ = s.Authenticate(ctx, "N", "", pap("stranger", "x"))
	if r.Accept || r.Reason != ReasonAuthorization {
		t.Errorf("none/local stranger: %+v", r)
	}
	// MS-CHAPv2 refused by authorization carries the failure string and no keys.
	req := &Request{Method: MSCHAPv2, Username: "stranger", Challenge: mustHex(t, authChallenge), Response: v2Value(t)}
	r, _ = s.Authenticate(ctx, "N", "", req)
	if r.Accept || !strings.HasPrefix(r.MSCHAPError, "E=691 R=0 C=5B5D") || r.MPPESendKey != nil {
		t.Errorf("none/local mschapv2: %+v", r)
	}
	// A group that cannot authorize alone errs; with no next method, an error.
	if _, err := s.Authenticate(ctx, "", "BAD", pap("User", "clientPass")); err == nil {
		t.Error("group without Authorizer did not err")
	}
	// ... and with local next, local authorizes.
	r, err = s.Authenticate(ctx, "", "R", pap("User@sales", "clientPass"))
	if err != nil || !r.Accept || r.Authz.Pool != "sales-pool" {
		t.Errorf("local/group-then-local: %+v %v", r, err)
	}
	if _, err := s.Authenticate(ctx, "", "MISSING", pap("User", "clientPass")); !errors.Is(err, ErrNoBackend) {
		t.Errorf("missing authz list: %v", err)
	}
}

func TestServiceNoLocal(t *testing.T) {
	s, err := NewService(ServiceConfig{Lists: []ListCommand{authn("default", mLocal, mNone)}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Authenticate(context.Background(), "", "", pap("a", "b"))
	if err != nil || !r.Accept {
		t.Errorf("local without database should fall to none: %+v %v", r, err)
	}
	if _, err := NewService(ServiceConfig{Lists: []ListCommand{{Type: AuthenticationPPP, Name: "x"}}}); err == nil {
		t.Error("empty list accepted")
	}
}

func TestServiceConcurrent(t *testing.T) {
	hist := NewFailureHistory(4, nil)
	s, err := NewService(ServiceConfig{
		Lists:   []ListCommand{authn("default", mLocal), authz("default", mLocal)},
		Local:   testLocal(t),
		History: hist,
	})
	if err != nil {
		t.Fatal(err)
	}
	acct := NewMemoryAccounter(16, nil)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			ctx := context.Background()
			for i := 0; i < 200; i++ {
				pw := "clientPass"
				if i%3 == 0 {
					pw = "wrong"
				}
				user := fmt.Sprintf("User@d%d", i%7)
				r, err := s.Authenticate(ctx, "", "", pap(user, pw))
				if err != nil || r.Accept != (i%3 != 0) {
					t.Errorf("%v %v", r, err)
					return
				}
				rec := &AccountingRecord{SessionID: fmt.Sprint(w, "-", i), Username: user}
				acct.Start(ctx, rec)
				acct.Interim(ctx, rec)
				acct.Stop(ctx, rec)
				_ = hist.Entries()
			}
		}(w)
	}
	wg.Wait()
	if c := acct.Counts(); c.Starts != 800 || c.Stops != 800 || c.Active != 0 || c.Orphans != 0 {
		t.Errorf("counts %+v", c)
	}
	if n := len(hist.Entries()); n != 4 {
		t.Errorf("history holds %d users, bound 4", n)
	}
}

func TestFailureHistoryBound(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := NewFailureHistory(2, func() time.Time { now = now.Add(time.Second); return now })
	h.Record(pap("a", ""), "r1")
	h.Record(pap("b", ""), "r2")
	h.Record(pap("a", ""), "r3") // a is now the most recent
	h.Record(pap("c", ""), "r4") // evicts b
	if _, ok := h.Get("b"); ok {
		t.Error("b not evicted")
	}
	e := h.Entries()
	if len(e) != 2 || e[0].User != "c" || e[1].User != "a" || e[1].Count != 2 || e[1].Reason != "r3" ||
		!e[1].First.Equal(time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC)) {
		t.Errorf("entries %+v", e)
	}
	h.Record(pap(strings.Repeat("x", 1000), ""), "long")
	if _, ok := h.Get(strings.Repeat("x", maxNameLen)); !ok {
		t.Error("long name not truncated")
	}
	var b bytes.Buffer
	if err := h.WriteShow(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "Table size: 2\nEntries: 2\nUser: xxx") || !strings.Contains(b.String(), "User: c\n  NAS: Vi3, CLID = , Tunnel: lac1, Peer: -\n  Log time: 2026-01-01 00:00:04, Error repetitions: 1\n  Failure reason: r4\n") {
		t.Errorf("show:\n%s", b.String())
	}
	h.Clear("c")
	if _, ok := h.Get("c"); ok || len(h.Entries()) != 1 {
		t.Error("Clear(c)")
	}
	h.Clear("")
	if len(h.Entries()) != 0 {
		t.Error("Clear all")
	}
}

func TestMemoryAccounter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := NewMemoryAccounter(3, func() time.Time { now = now.Add(time.Minute); return now })
	ctx := context.Background()
	a := &AccountingRecord{SessionID: "1", Username: "alice", FramedAddress: netip.MustParseAddr("198.19.1.2")}
	b := &AccountingRecord{SessionID: "2", Username: "bob"}
	m.Start(ctx, a)
	m.Start(ctx, b)
	a.InOctets = 100
	m.Interim(ctx, a)
	if act := m.Active(); len(act) != 2 || act[0].InOctets != 100 || act[1].Username != "bob" {
		t.Errorf("active %+v", act)
	}
	m.Stop(ctx, a)
	m.Stop(ctx, &AccountingRecord{SessionID: "ghost"})
	recs := m.Records()
	if len(recs) != 3 || recs[0].Kind != AcctInterim || recs[1].Kind != AcctStop || recs[2].Record.SessionID != "ghost" ||
		!recs[0].Time.Equal(time.Date(2026, 1, 1, 0, 3, 0, 0, time.UTC)) {
		t.Errorf("records %+v", recs)
	}
	if c := m.Counts(); c.Starts != 2 || c.Interims != 1 || c.Stops != 2 || c.Orphans != 1 || c.Active != 1 {
		t.Errorf("counts %+v", c)
	}
	if AcctStart.String() != "start" || RecordKind(9).String() != "RecordKind(9)" {
		t.Error("String")
	}
}

// challengeGroup answers every request with an EAP pass-through step.
type challengeGroup struct{}

func (challengeGroup) Authenticate(ctx context.Context, req *Request) (*Result, error) {
	return &Result{Challenge: true, EAPMessage: []byte{1, 2, 0, 5, 4}, State: []byte("s")}, nil
}

// TestServiceEAPRelay: a list that starts with a group relays EAP; a
// challenge goes back as it is, neither recorded as a failure nor
// authorized; a method other than a group cannot take an EAP step and
// the walk goes on past it.
func TestServiceEAPRelay(t *testing.T) {
	local, err := NewLocal(LocalConfig{Users: []User{{Name: "alice", Password: "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	h := NewFailureHistory(10, time.Now)
	s, err := NewService(ServiceConfig{
		Lists:  []ListCommand{authn("default", mGroup("radius"), mLocal), authn("loc", mLocal, mGroup("radius")), authz("default", mLocal)},
		Groups: map[string]Authenticator{"radius": challengeGroup{}}, Local: local, History: h,
	})
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := s.Bind("", "").(EAPRelay); !ok || !r.RelaysEAP() {
		t.Fatal("default list does not relay EAP")
	}
	if s.Bind("loc", "").(EAPRelay).RelaysEAP() {
		t.Fatal("a list starting with local relays EAP")
	}
	req := &Request{Method: EAPMD5, Username: "bob", EAPMessage: []byte{2, 1, 0, 8, 1, 'b', 'o', 'b'}}
	for _, list := range []string{"", "loc"} {
		r, err := s.Authenticate(context.Background(), list, "", req)
		if err != nil || !r.Challenge || string(r.State) != "s" {
			t.Fatalf("list %q: %+v %v", list, r, err)
		}
	}
	if n := len(h.Entries()); n != 0 {
		t.Fatalf("%d failures recorded for challenges", n)
	}
	s2, _ := NewService(ServiceConfig{Lists: []ListCommand{authn("default", mLocal)}, Local: local})
	if _, err := s2.Authenticate(context.Background(), "", "", req); !errors.Is(err, errEAPRelay) {
		t.Fatalf("local given an EAP step: %v", err)
	}
}
