package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestListenAddr(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	lavaConf := write("lava-coordinator.conf", `{"port": 3179, "blocksize": 4096, "poll_delay": 3, "coordinator_hostname": "localhost"}`)
	noPort := write("noport.conf", `{"blocksize": 4096}`)
	bad := write("bad.conf", `{"port": `)
	tests := []struct {
		name, listen, conf, want, wantErr string
	}{
		{"default like LAVA", "", "", "0.0.0.0:3079", ""},
		{"port from LAVA config", "", lavaConf, "0.0.0.0:3179", ""},
		{"config without port", "", noPort, "0.0.0.0:3079", ""},
		{"--listen wins", "127.0.0.1:0", lavaConf, "127.0.0.1:0", ""},
		{"bad config", "", bad, "", "parse --config"},
		{"missing config", "", filepath.Join(dir, "nope"), "", "read --config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := listenAddr(tt.listen, tt.conf)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("listenAddr = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
