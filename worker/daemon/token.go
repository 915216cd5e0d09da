package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"
)

// resolveToken finds the worker token as LAVA does: register with the
// credentials, else the given token, else the token file, else register
// anonymously. It returns "", nil if ctx ends while registering.
func (d *daemon) resolveToken(ctx context.Context) (string, error) {
	c := d.cfg
	switch {
	case c.Username != "":
		d.log.Info("token: registering", "username", c.Username)
		return d.registerAndSave(ctx, c.Username, c.Password)
	case c.Token != "":
		d.log.Info("token: from the configuration")
		return c.Token, writeToken(c.TokenFile, c.Token)
	}
	data, err := os.ReadFile(c.TokenFile)
	switch {
	case err == nil && strings.TrimRight(string(data), "\n") != "":
		d.log.Info("token: from file", "file", c.TokenFile)
		return strings.TrimRight(string(data), "\n"), nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("read token file: %w", err)
	}
	d.log.Info("token: auto registering")
	return d.registerAndSave(ctx, "", "")
}

// registerAndSave registers, retrying every few seconds until the server
// accepts (an admin may have to allow it), and saves the token.
func (d *daemon) registerAndSave(ctx context.Context, username, password string) (string, error) {
	for {
		reg, err := d.client.Register(ctx, d.cfg.Name, username, password)
		if err == nil {
			d.log.Info("registered", "name", reg.Name)
			return reg.Token, writeToken(d.cfg.TokenFile, reg.Token)
		}
		if ctx.Err() != nil {
			return "", nil
		}
		d.log.Error("registration failed", "error", err, "retry_in", d.t.register)
		timer := time.NewTimer(d.t.register)
		select {
		case <-ctx.Done():
			timer.Stop()
			return "", nil
		case <-timer.C:
		}
	}
}

// writeToken saves the token readable by its owner only.
func writeToken(path, token string) error {
	if err := os.WriteFile(path, []byte(token), 0o600); err != nil {
		return fmt.Errorf("write token file: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return fmt.Errorf("write token file: %w", err)
	}
	return nil
}
