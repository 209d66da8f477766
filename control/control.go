package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultSocket is where the daemon listens unless told otherwise.
const DefaultSocket = "/run/vpdn/vpdn.sock"

// SocketFromEnv returns the socket path: flag if set, else $VPDN_SOCKET,
// else DefaultSocket.
func SocketFromEnv(flag string) string {
	if flag != "" {
		return flag
	}
	if s := os.Getenv("VPDN_SOCKET"); s != "" {
		return s
	}
	return DefaultSocket
}

// Request is one command sent to the daemon. The protocol is one JSON
// object per line in each direction; a connection may carry many requests.
type Request struct {
	// Verb is "show", "clear", "crypto" (exec), "debug", "undebug", "reload" or "ping".
	Verb  string   `json:"verb"`
	Words []string `json:"words,omitempty"`
	JSON  bool     `json:"json,omitempty"`
	// Secrets asks show running-config for the secrets as written
	// (--secrets); it needs the admin role.
	Secrets bool `json:"secrets,omitempty"`
}

// Response is the daemon's answer.
type Response struct {
	OK    bool            `json:"ok"`
	Text  string          `json:"text,omitempty"`
	Data  json.RawMessage `json:"data,omitempty"`
	Error string          `json:"error,omitempty"`
}

// Handler answers requests.
type Handler interface {
	Serve(ctx context.Context, req *Request) *Response
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, req *Request) *Response

func (f HandlerFunc) Serve(ctx context.Context, req *Request) *Response { return f(ctx, req) }

// maxRequest bounds one request line.
const maxRequest = 64 << 10

// Server serves the control socket.
type Server struct {
	Handler Handler
	Logger  *slog.Logger
	// Roles decides what each peer may do (SO_PEERCRED); nil is
	// NoGroups: only root and the daemon's own user.
	Roles *Roles

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// Listen creates the socket at path (its directory too, mode 0750) and
// removes a stale socket left by a previous run. It refuses to take over a
// socket that a running daemon still answers on.
//
// The file mode follows r: with no group, 0660 owned by the daemon's
// user and group; with one group (admin or read-only), 0660 owned by that
// group, and the directory made 0755 so its members can reach it; with
// both, 0666, since a file has one group: the SO_PEERCRED check of every
// request is then what keeps others out.
func Listen(path string, r Roles) (net.Listener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("control: another daemon is listening on %s", path)
	}
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	if err := socketMode(dir, path, r); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control: %w", err)
	}
	return ln, nil
}

func socketMode(dir, path string, r Roles) error {
	mode, gid := os.FileMode(0o660), -1
	switch {
	case r.AdminGID >= 0 && r.ReadGID >= 0 && r.AdminGID != r.ReadGID:
		mode = 0o666
	case r.AdminGID >= 0:
		gid = r.AdminGID
	case r.ReadGID >= 0:
		gid = r.ReadGID
	}
	if r.AdminGID >= 0 || r.ReadGID >= 0 {
		// Members of the groups must reach the socket: its directory is
		// searchable by all (it holds nothing else to protect).
		if err := os.Chmod(dir, 0o755); err != nil {
			return err
		}
	}
	if gid >= 0 {
		if err := os.Chown(path, -1, gid); err != nil {
			return err
		}
	}
	return os.Chmod(path, mode)
}

// Serve accepts connections on ln until ctx is done or Close is called.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.mu.Lock()
	s.ln = ln
	s.conns = map[net.Conn]struct{}{}
	s.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				s.wg.Wait()
				return nil
			}
			return fmt.Errorf("control: accept: %w", err)
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(ctx, c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// Close stops the listener and drops open connections.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		s.ln.Close()
		if a, ok := s.ln.Addr().(*net.UnixAddr); ok {
			os.Remove(a.Name)
		}
	}
	for c := range s.conns {
		c.Close()
	}
}

func (s *Server) serveConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	roles := NoGroups
	if s.Roles != nil {
		roles = *s.Roles
	}
	// A connection that is not a unix socket (tests over net.Pipe) has
	// no credentials: it is the daemon's own, an admin.
	peer, role := Peer{UID: uint32(os.Geteuid())}, RoleAdmin
	if _, ok := c.(*net.UnixConn); ok {
		p, err := peerOf(c)
		if err != nil {
			if s.Logger != nil {
				s.Logger.Warn("control connection refused", "err", err.Error())
			}
			return
		}
		peer, role = p, roles.RoleOf(p)
	}
	r := bufio.NewReaderSize(c, 4096)
	enc := json.NewEncoder(c)
	for {
		line, err := readLine(r)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) && err.Error() != "EOF" && s.Logger != nil {
				s.Logger.Debug("control connection", "err", err)
			}
			return
		}
		var req Request
		var resp *Response
		if err := json.Unmarshal(line, &req); err != nil {
			resp = &Response{Error: "control: malformed request: " + err.Error()}
		} else if resp = permit(peer, role, &req); resp != nil {
			if s.Logger != nil {
				s.Logger.Info("control request refused", "verb", req.Verb, "uid", peer.UID, "pid", peer.PID, "role", role.String())
			}
		} else {
			resp = s.Handler.Serve(ctx, &req)
		}
		if err := enc.Encode(resp); err != nil {
			return
		}
	}
}

func readLine(r *bufio.Reader) ([]byte, error) {
	var out []byte
	for {
		chunk, isPrefix, err := r.ReadLine()
		if err != nil {
			return nil, err
		}
		out = append(out, chunk...)
		if len(out) > maxRequest {
			return nil, fmt.Errorf("control: request longer than %d bytes", maxRequest)
		}
		if !isPrefix {
			return out, nil
		}
	}
}

// Client talks to a daemon.
type Client struct {
	conn net.Conn
	r    *bufio.Reader
}

// Dial connects to the daemon's socket.
func Dial(path string) (*Client, error) {
	c, err := net.DialTimeout("unix", path, 3*time.Second)
	if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) {
		return nil, fmt.Errorf("%s: cannot open the vpdn daemon's socket %s: ask for its --admin-group or --read-group: %w", ErrPermission, path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot reach the vpdn daemon at %s (is \"vpdn serve\" running? set --socket or VPDN_SOCKET): %w", path, err)
	}
	return &Client{conn: c, r: bufio.NewReader(c)}, nil
}

// Do sends one request and waits for its response.
func (c *Client) Do(req *Request) (*Response, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	c.conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.conn.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	line, err := c.r.ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("control: reading response: %w", err)
	}
	var resp Response
	if err := json.Unmarshal(line, &resp); err != nil {
		return nil, fmt.Errorf("control: malformed response: %w", err)
	}
	return &resp, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Command is one entry of a command tree: its words in full ("vpdn
// session"), optional trailing keywords it accepts, and its handler.
type Command struct {
	Words    string
	Optional []string // trailing keywords, e.g. "all"
	Args     int      // number of free arguments after the words (e.g. an interface number)
	Help     string
	Run      func(ctx context.Context, args []string, opts []string, asJSON bool) (*Response, error)
}

// Tree resolves IOS-style abbreviated words to commands.
type Tree struct {
	cmds []*Command
}

// Add registers a command.
func (t *Tree) Add(c *Command) { t.cmds = append(t.cmds, c) }

// Commands lists the registered commands.
func (t *Tree) Commands() []*Command { return t.cmds }

// Resolve finds the command for words, each word an unambiguous prefix.
// It returns the command, its free arguments and the optional keywords given.
func (t *Tree) Resolve(words []string) (*Command, []string, []string, error) {
	if len(words) == 0 {
		return nil, nil, nil, fmt.Errorf("incomplete command; expected one of: %s", t.list())
	}
	type cand struct {
		c     *Command
		exact int
	}
	var cands []cand
	for _, c := range t.cmds {
		cw := strings.Fields(c.Words)
		if len(words) < len(cw) {
			continue
		}
		exact, ok := 0, true
		for i, w := range cw {
			lw := strings.ToLower(words[i])
			if !strings.HasPrefix(w, lw) {
				ok = false
				break
			}
			if w == lw {
				exact++
			}
		}
		if !ok {
			continue
		}
		rest := words[len(cw):]
		if len(rest) < c.Args {
			continue
		}
		okOpt := true
		for _, r := range rest[c.Args:] {
			if matchOpt(c.Optional, r) == "" {
				okOpt = false
			}
		}
		if okOpt {
			cands = append(cands, cand{c, exact})
		}
	}
	if len(cands) == 0 {
		return nil, nil, nil, fmt.Errorf("%% Invalid input: %q; expected one of: %s", strings.Join(words, " "), t.list())
	}
	best := cands[0]
	tie := false
	for _, c := range cands[1:] {
		lc, lb := len(strings.Fields(c.c.Words)), len(strings.Fields(best.c.Words))
		switch {
		case lc > lb || (lc == lb && c.exact > best.exact):
			best, tie = c, false
		case lc == lb && c.exact == best.exact:
			tie = true
		}
	}
	if tie {
		return nil, nil, nil, fmt.Errorf("%% Ambiguous command: %q", strings.Join(words, " "))
	}
	n := len(strings.Fields(best.c.Words))
	args := words[n : n+best.c.Args]
	var opts []string
	for _, r := range words[n+best.c.Args:] {
		opts = append(opts, matchOpt(best.c.Optional, r))
	}
	return best.c, args, opts, nil
}

func matchOpt(opts []string, w string) string {
	w = strings.ToLower(w)
	found := ""
	for _, o := range opts {
		if o == w {
			return o
		}
		if strings.HasPrefix(o, w) {
			if found != "" {
				return ""
			}
			found = o
		}
	}
	return found
}

// list names the commands for an error message, each once: a command
// registered twice with different argument counts ("ip local pool" and
// "ip local pool NAME") is one candidate to the user.
func (t *Tree) list() string {
	var out []string
	for _, c := range t.cmds {
		if !slices.Contains(out, c.Words) {
			out = append(out, c.Words)
		}
	}
	return strings.Join(out, ", ")
}
