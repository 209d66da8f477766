package main

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/vpdn/vpdn/control"
)

// TestAskSecretsAndRefusal: vpdn show --secrets sends Secrets (and not
// the flag as a word); a refused request exits 1.
func TestAskSecretsAndRefusal(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s")
	ln, err := control.Listen(sock, control.NoGroups)
	if err != nil {
		t.Fatal(err)
	}
	var secrets, words atomic.Int32
	srv := &control.Server{Handler: control.HandlerFunc(func(ctx context.Context, req *control.Request) *control.Response {
		if req.Secrets {
			secrets.Add(1)
		}
		words.Store(int32(len(req.Words)))
		if req.Verb == "reload" {
			return &control.Response{Error: control.ErrPermission + ": test"}
		}
		return &control.Response{OK: true, Text: "ok\n"}
	})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()

	if rc := runShow([]string{"running-config", "--secrets", "--socket", sock}); rc != 0 {
		t.Fatalf("show --secrets: exit %d", rc)
	}
	if secrets.Load() != 1 || words.Load() != 1 {
		t.Errorf("secrets sent %d times, %d words; want 1 and 1", secrets.Load(), words.Load())
	}
	if rc := runShow([]string{"running-config", "--socket", sock}); rc != 0 || secrets.Load() != 1 {
		t.Errorf("show without --secrets: exit %d, secrets %d", rc, secrets.Load())
	}
	if rc := runReload([]string{"--socket", sock}); rc != 1 {
		t.Errorf("refused reload: exit %d, want 1", rc)
	}
	if rc := runClear([]string{"vpdn", "--secrets", "--socket", sock}); rc != 2 {
		t.Errorf("clear --secrets: exit %d, want 2 (unknown flag)", rc)
	}
}
