package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/vpdn/vpdn/control"
	"github.com/vpdn/vpdn/daemon"
	"github.com/vpdn/vpdn/internal/debug"
)

func runServe(args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfgPath := fs.String("c", "", "configuration file")
	fs.StringVar(cfgPath, "config", "", "configuration file (same as -c)")
	socket := fs.String("socket", "", "control socket path (default $VPDN_SOCKET or "+control.DefaultSocket+")")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	logLevel := fs.String("log-level", "info", "minimum log level: debug, info, warn, error (debug switches need debug)")
	cpuProfile := fs.String("cpuprofile", "", "write a Go CPU profile of the whole run to FILE (for `go tool pprof`)")
	pprofAddr := fs.String("pprof", "", "serve Go's net/http/pprof profiles on ADDR:PORT (keep it on loopback)")
	adminGroup := fs.String("admin-group", "", "members of GROUP may use every control command (root and the daemon's user always may)")
	acctSpool := fs.String("acct-spool", daemon.DefaultAcctSpool, "directory of the RADIUS accounting spool: records are written there before they are sent and kept until acknowledged, across restarts")
	readGroup := fs.String("read-group", "", "members of GROUP may run show only (no --secrets)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *cfgPath == "" || fs.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: vpdn serve -c FILE [--socket PATH] [--log-format text|json] [--admin-group GROUP] [--read-group GROUP]")
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "vpdn serve: --log-level %q: expected debug, info, warn or error\n", *logLevel)
		return 2
	}
	// The handler passes Debug records through: the debug switches decide.
	hopts := &slog.HandlerOptions{Level: min(level, slog.LevelDebug)}
	var h slog.Handler
	switch *logFormat {
	case "text":
		h = slog.NewTextHandler(os.Stderr, hopts)
	case "json":
		h = slog.NewJSONHandler(os.Stderr, hopts)
	default:
		fmt.Fprintf(os.Stderr, "vpdn serve: --log-format %q: expected text or json\n", *logFormat)
		return 2
	}
	logger := slog.New(&levelFloor{Handler: h, floor: level})
	if *cpuProfile != "" {
		stopProfile, err := startCPUProfile(*cpuProfile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "vpdn serve: %v\n", err)
			return 1
		}
		defer stopProfile()
	}
	if *pprofAddr != "" {
		if err := servePprof(*pprofAddr, logger); err != nil {
			fmt.Fprintf(os.Stderr, "vpdn serve: %v\n", err)
			return 1
		}
	}

	roles, err := control.LookupRoles(*adminGroup, *readGroup)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vpdn serve: %v\n", err)
		return 2
	}
	d, err := daemon.New(daemon.Options{
		ConfigPath: *cfgPath,
		Socket:     control.SocketFromEnv(*socket),
		Roles:      &roles,
		Logger:     logger,
		Debug:      debug.New(),
		// The spool outlives the process: a restart sends what is left.
		AcctSpoolDir: *acctSpool,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "vpdn serve: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			logger.Info("SIGHUP: reloading configuration")
			_ = d.Reload() // Reload logs the outcome.
		}
	}()
	if err := d.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(os.Stderr, "vpdn serve: %v\n", err)
		return 1
	}
	return 0
}

// levelFloor drops records below the configured level, except Debug
// records tagged by a debug switch (which only reach here when it is on).
type levelFloor struct {
	slog.Handler
	floor slog.Level
}

func (l *levelFloor) Enabled(ctx context.Context, lv slog.Level) bool {
	return lv >= l.floor || lv == slog.LevelDebug
}

func (l *levelFloor) WithAttrs(a []slog.Attr) slog.Handler {
	return &levelFloor{Handler: l.Handler.WithAttrs(a), floor: l.floor}
}

func (l *levelFloor) WithGroup(n string) slog.Handler {
	return &levelFloor{Handler: l.Handler.WithGroup(n), floor: l.floor}
}
