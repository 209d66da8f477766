package control

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Role is what a peer of the control socket may do.
type Role int

const (
	// RoleNone may do nothing: every request is refused.
	RoleNone Role = iota
	// RoleReadOnly may run show (and ping), without --secrets.
	RoleReadOnly
	// RoleAdmin may do everything: show --secrets, clear, debug,
	// undebug, reload.
	RoleAdmin
)

func (r Role) String() string {
	switch r {
	case RoleReadOnly:
		return "read-only"
	case RoleAdmin:
		return "admin"
	}
	return "none"
}

// Peer is the process at the other end of a control connection, as the
// kernel reports it (SO_PEERCRED, socket(7)), with its groups.
type Peer struct {
	PID    int32
	UID    uint32
	GID    uint32   // primary group
	Groups []uint32 // supplementary groups (from /proc/PID/status)
}

// Roles says which peers get which role. Root, and the daemon's own
// user, are always admins; members of AdminGID are admins, members of
// ReadGID read-only; anyone else is refused. A GID of -1 is no group.
type Roles struct {
	AdminGID int
	ReadGID  int
}

// NoGroups is the default: only root and the daemon's user.
var NoGroups = Roles{AdminGID: -1, ReadGID: -1}

// LookupRoles resolves the group names of `vpdn serve --admin-group` and
// `--read-group` ("" for none).
func LookupRoles(admin, read string) (Roles, error) {
	r := NoGroups
	for _, g := range []struct {
		name string
		gid  *int
		flag string
	}{{admin, &r.AdminGID, "--admin-group"}, {read, &r.ReadGID, "--read-group"}} {
		if g.name == "" {
			continue
		}
		id, err := lookupGroup(g.name)
		if err != nil {
			return NoGroups, fmt.Errorf("control: %s %q: %w", g.flag, g.name, err)
		}
		*g.gid = id
	}
	return r, nil
}

func lookupGroup(name string) (int, error) {
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		return n, nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		return 0, errors.New("no such group; expected a group name or number")
	}
	return strconv.Atoi(g.Gid)
}

// RoleOf is the role of peer p.
func (r Roles) RoleOf(p Peer) Role {
	if p.UID == 0 || p.UID == uint32(os.Geteuid()) {
		return RoleAdmin
	}
	in := func(gid int) bool {
		return gid >= 0 && (p.GID == uint32(gid) || slices.Contains(p.Groups, uint32(gid)))
	}
	switch {
	case in(r.AdminGID):
		return RoleAdmin
	case in(r.ReadGID):
		return RoleReadOnly
	}
	return RoleNone
}

// Needs is the role a request needs: show (without Secrets) and ping are
// read-only; show --secrets, clear, debug, undebug and reload change the
// daemon or reveal what the read-only role must not see.
func (req *Request) Needs() Role {
	switch req.Verb {
	case "ping":
		return RoleReadOnly
	case "show":
		if req.Secrets {
			return RoleAdmin
		}
		return RoleReadOnly
	}
	return RoleAdmin
}

// ErrPermission is the error text of a refused request; the CLI prints it
// and exits non-zero.
const ErrPermission = "permission denied"

// permit checks req against the peer's role and returns the refusal, or
// nil.
func permit(p Peer, role Role, req *Request) *Response {
	need := req.Needs()
	if role >= need {
		return nil
	}
	what := req.Verb
	if req.Verb == "show" && req.Secrets {
		what = "show --secrets"
	}
	return &Response{Error: fmt.Sprintf("%s: %q needs the %s role; uid %d has the %s role (see vpdn serve --admin-group and --read-group)",
		ErrPermission, what, need, p.UID, role)}
}

// peerOf reads the credentials of the process on the other end of c.
func peerOf(c net.Conn) (Peer, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return Peer{}, errors.New("control: not a unix socket")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return Peer{}, fmt.Errorf("control: %w", err)
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return Peer{}, fmt.Errorf("control: %w", err)
	}
	if cerr != nil {
		return Peer{}, fmt.Errorf("control: SO_PEERCRED: %w", cerr)
	}
	p := Peer{PID: cred.Pid, UID: cred.Uid, GID: cred.Gid}
	p.Groups = procGroups(cred.Pid)
	return p, nil
}

// procGroups reads the supplementary groups of process pid from
// /proc/PID/status (SO_PEERCRED carries the primary group only). A
// process that is gone, or a line that does not parse, gives none: the
// peer then has only its primary group's rights, never more.
func procGroups(pid int32) []uint32 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "Groups:")
		if !ok {
			continue
		}
		var out []uint32
		for _, w := range strings.Fields(rest) {
			n, err := strconv.ParseUint(w, 10, 32)
			if err != nil {
				return nil
			}
			out = append(out, uint32(n))
		}
		return out
	}
	return nil
}
