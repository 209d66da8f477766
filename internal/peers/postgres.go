package peers

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// PostgreSQLUser is the account PostgreSQL runs as: the Debian package
// creates it, and the server refuses to run as root.
const PostgreSQLUser = "postgres"

// postgresBinDirs are where Debian keeps the server binaries (initdb and
// postgres are not in $PATH there).
var postgresBinDirs = []string{"/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin"}

// PostgreSQLPeer is a PostgreSQL server of the test's own: a cluster made
// by initdb in a temporary directory, run as the postgres user, listening
// on a unix socket in that directory and, if asked, on one lab address.
type PostgreSQLPeer struct {
	Daemon
	// SocketDir holds the unix socket (.s.PGSQL.<Port>).
	SocketDir string
	db        string
	ns        NS
}

// Query runs one SQL statement in the test's database through psql over
// the unix socket (inside the server's namespace) and returns its rows,
// unaligned, fields separated by '|'.
func (p *PostgreSQLPeer) Query(sql string) (string, error) {
	psql, err := postgresBin("psql")
	if err != nil {
		psql = "psql"
	}
	out, err := p.ns.Run(30*time.Second, psql, "-h", p.SocketDir, "-p", strconv.Itoa(int(p.Port)), "-U", PostgreSQLUser,
		"-d", p.db, "-v", "ON_ERROR_STOP=1", "-Atc", sql)
	if err != nil {
		return "", fmt.Errorf("peers: psql %q: %v: %s", sql, err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// DSN returns a connection string for database db over the unix socket
// (host may be a directory) or, with tcp, over the lab address.
func (p *PostgreSQLPeer) DSN(db string, tcp bool) string {
	host := p.SocketDir
	if tcp {
		host = p.Addr.String()
	}
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", host, p.Port, PostgreSQLUser, db)
}

func postgresBin(name string) (string, error) {
	for _, d := range postgresBinDirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return lookPath(name)
}

// RequirePostgreSQL skips the test (fails it under VPDN_REQUIRE_PEERS=1)
// when the server binaries or the postgres account are missing.
func RequirePostgreSQL(tb testing.TB) {
	tb.Helper()
	_, e1 := postgresBin("initdb")
	_, e2 := postgresBin("postgres")
	_, e3 := user.Lookup(PostgreSQLUser)
	if e1 == nil && e2 == nil && e3 == nil {
		return
	}
	msg := "peers: PostgreSQL not installed (initdb, postgres and the postgres user; package postgresql, see .ci/peers-packages.txt)"
	if os.Getenv(RequireEnv) == "1" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}

// hostLab starts commands on the host, for a server on a unix socket only.
type hostLab struct{}

func (hostLab) Start(cmd *exec.Cmd) error { return cmd.Start() }

type hostNS struct{}

func (hostNS) Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

func (hostNS) Run(timeout time.Duration, name string, args ...string) ([]byte, error) {
	return runBounded(exec.Command(name, args...), timeout)
}

// PostgreSQL starts a server on a unix socket only (no network), outside
// any namespace, with a database db. It stops at the test's cleanup.
func PostgreSQL(tb testing.TB, db string) *PostgreSQLPeer {
	tb.Helper()
	return startPostgreSQL(tb, hostLab{}, hostNS{}, db)
}

// PostgreSQLIn starts a server inside namespace ns, listening on the lab
// addresses listen (port 5432) and on a unix socket, with a database db
// and password-less access from 198.18.0.0/15. It stops at the test's
// cleanup.
func PostgreSQLIn(tb testing.TB, lab Lab, ns NS, db string, listen ...netip.Addr) *PostgreSQLPeer {
	tb.Helper()
	return startPostgreSQL(tb, lab, ns, db, listen...)
}

func startPostgreSQL(tb testing.TB, lab Lab, ns NS, db string, listen ...netip.Addr) *PostgreSQLPeer {
	tb.Helper()
	RequirePostgreSQL(tb)
	initdb, _ := postgresBin("initdb")
	server, _ := postgresBin("postgres")
	u, _ := user.Lookup(PostgreSQLUser)
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	// The postgres account must reach the directory: not under
	// t.TempDir(), whose parent is private to root.
	dir, err := os.MkdirTemp("", "vpdn-pg-")
	if err != nil {
		tb.Fatalf("peers: %v", err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		tb.Fatalf("peers: %v", err)
	}
	data, sock := filepath.Join(dir, "data"), filepath.Join(dir, "sock")
	for _, d := range []string{data, sock} {
		if err := os.Mkdir(d, 0o700); err != nil {
			tb.Fatalf("peers: %v", err)
		}
		if err := os.Chown(d, uid, gid); err != nil {
			tb.Fatalf("peers: %v", err)
		}
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	ini := exec.Command(initdb, "-D", data, "-U", PostgreSQLUser, "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C")
	ini.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	ini.Dir = dir
	if out, err := runBounded(ini, 60*time.Second); err != nil {
		tb.Fatalf("peers: initdb: %v: %s", err, out)
	}
	conf := "fsync = off\nfull_page_writes = off\nsynchronous_commit = off\nmax_connections = 100\n" +
		"shared_buffers = 32MB\nunix_socket_directories = '" + sock + "'\n"
	var addrs []string
	for _, a := range listen {
		addrs = append(addrs, a.String())
	}
	conf += "listen_addresses = '" + strings.Join(addrs, ",") + "'\n"
	var addr netip.Addr
	if len(listen) > 0 {
		addr = listen[0]
	}
	appendFile(tb, filepath.Join(data, "postgresql.conf"), conf)
	appendFile(tb, filepath.Join(data, "pg_hba.conf"), "host all all 198.18.0.0/15 trust\n")
	p := &PostgreSQLPeer{
		Daemon: Daemon{
			Name: "postgresql", Addr: addr, Port: 5432, Dir: dir,
			LogPath: filepath.Join(dir, "postgresql.log"),
		},
		SocketDir: sock, db: db, ns: ns,
	}
	// runuser drops to the postgres account (inside the namespace, where
	// ip netns exec runs as root); its process group is stopped whole.
	cmd := ns.Command("runuser", "-u", PostgreSQLUser, "--", server, "-D", data)
	cmd.Dir = dir
	begin := time.Now()
	start(tb, lab, &p.Daemon, cmd, p.LogPath)
	waitReady(tb, &p.Daemon, 30*time.Second, "ready to accept connections",
		logHas(&p.Daemon, "database system is ready to accept connections"))
	p.Startup = time.Since(begin)
	p.db = "postgres"
	if _, err := p.Query("CREATE DATABASE " + db); err != nil {
		tb.Fatalf("peers: creating database %s: %v", db, err)
	}
	p.db = db
	return p
}

// runBounded runs cmd, killing it after timeout.
func runBounded(cmd *exec.Cmd, timeout time.Duration) ([]byte, error) {
	t := time.AfterFunc(timeout, func() {
		if cmd.Process != nil {
			cmd.Process.Kill()
		}
	})
	defer t.Stop()
	return cmd.CombinedOutput()
}

// freeRADIUSSQL is where the packaged FreeRADIUS keeps its SQL schemas.
const freeRADIUSSQL = "/etc/freeradius/3.0/mods-config/sql"

// FreeRADIUSSQLIPPool is FreeRADIUS (signing its answers, as
// FreeRADIUSSigning) whose sqlippool module hands out Framed-IP-Address
// from the PostgreSQL pg: the sql module on pg's unix socket
// (rlm_sql_postgresql, package freeradius-postgresql), the packaged
// schemas loaded, the table radippool filled with first..last as pool
// poolName, and every accepted user given Pool-Name poolName and an
// address in post-auth.
func FreeRADIUSSQLIPPool(tb testing.TB, lab Lab, ns NS, pg *PostgreSQLPeer, poolName string, first, last netip.Addr, users ...User) *FreeRADIUSPeer {
	tb.Helper()
	if _, err := os.Stat("/usr/lib/freeradius/rlm_sql_postgresql.so"); err != nil {
		msg := "peers: rlm_sql_postgresql not installed (package freeradius-postgresql, see .ci/peers-packages.txt)"
		if os.Getenv(RequireEnv) == "1" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	for _, f := range []string{"main/postgresql/schema.sql", "ippool/postgresql/schema.sql"} {
		sql, err := os.ReadFile(filepath.Join(freeRADIUSSQL, f))
		if err != nil {
			tb.Fatalf("peers: %v", err)
		}
		if _, err := pg.Query(string(sql)); err != nil {
			tb.Fatalf("peers: loading %s: %v", f, err)
		}
	}
	n := u32(last) - u32(first)
	// expiry_time in the past: the schema's default is NOW(), and
	// sqlippool takes an address only when expiry_time < 'now'::timestamp(0),
	// so a request within the second of the fill found the pool "full".
	if _, err := pg.Query(fmt.Sprintf(`INSERT INTO radippool (pool_name, framedipaddress, expiry_time)
		SELECT '%s', '%s'::inet + g, now() - interval '1 hour' FROM generate_series(0, %d) AS g`, poolName, first, n)); err != nil {
		tb.Fatalf("peers: filling radippool: %v", err)
	}
	return freeRADIUS(tb, lab, ns, true, users, func(conf string) {
		editFile(tb, filepath.Join(conf, "mods-available", "sql"), []edit{
			{regexp.MustCompile(`(?m)^\tdialect = "sqlite"$`), `dialect = "postgresql"`},
			{regexp.MustCompile(`(?m)^\tdriver = "rlm_sql_null"$`), "driver = \"rlm_sql_postgresql\"\n\tserver = \"" + pg.SocketDir +
				"\"\n\tport = " + strconv.Itoa(int(pg.Port)) + "\n\tlogin = \"" + PostgreSQLUser + "\"\n\tpassword = \"\""},
			{regexp.MustCompile(`(?m)^\tradius_db = "radius"$`), `radius_db = "` + pg.db + `"`},
		})
		editFile(tb, filepath.Join(conf, "mods-available", "sqlippool"), []edit{
			{regexp.MustCompile(`(?m)^\tdialect = "mysql"$`), `dialect = "postgresql"`},
		})
		for _, m := range []string{"sql", "sqlippool"} {
			if err := os.Symlink("../mods-available/"+m, filepath.Join(conf, "mods-enabled", m)); err != nil && !os.IsExist(err) {
				tb.Fatalf("peers: %v", err)
			}
		}
		editFile(tb, filepath.Join(conf, "sites-enabled", "default"), []edit{
			{regexp.MustCompile(`(?m)^post-auth \{$`), "post-auth {\n\tupdate control {\n\t\t&Pool-Name := \"" + poolName + "\"\n\t}\n\tsqlippool"},
		})
	})
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
