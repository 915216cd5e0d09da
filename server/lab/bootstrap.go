package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golava/server/store"
)

// The lab's fixed names: one worker, dut-sim boards, the admin user.
const (
	workerName     = "lab"
	adminName      = "admin"
	dutSimType     = "dut-sim"
	adminTokenFile = "admin-token"
	// workerTokenFile holds the lab worker's token when the worker is external.
	workerTokenFile = "worker-token"
)

type board struct {
	name string
	dir  string
}

type bootInfo struct {
	adminToken  string
	workerName  string
	workerToken string
	boards      []board
}

// bootstrap makes sure the admin, the worker, the device type and the boards
// exist; it is idempotent so a restarted lab keeps its jobs and tokens.
func bootstrap(ctx context.Context, st *store.Store, cfg Config) (*bootInfo, error) {
	info := &bootInfo{workerName: workerName}
	var err error
	if info.adminToken, err = ensureAdmin(ctx, st, filepath.Join(cfg.DataDir, adminTokenFile)); err != nil {
		return nil, err
	}
	if cfg.AdminPassword != "" {
		if err := setAdminPassword(ctx, st, cfg.AdminPassword); err != nil {
			return nil, err
		}
	}
	if info.workerToken, err = ensureWorker(ctx, st); err != nil {
		return nil, err
	}
	if _, err := st.DeviceTypeByName(ctx, store.DefaultRealm, dutSimType); errors.Is(err, store.ErrNotFound) {
		if _, err := st.CreateDeviceType(ctx, store.DefaultRealm, store.NewDeviceType{Name: dutSimType, Description: "golava simulated board"}); err != nil {
			return nil, fmt.Errorf("create device type: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("device type %s: %w", dutSimType, err)
	}
	for i := 1; i <= cfg.Boards; i++ {
		b := board{name: fmt.Sprintf("dut-sim-%02d", i)}
		b.dir = filepath.Join(cfg.DataDir, "boards", b.name)
		if err := ensureBoard(ctx, st, b, dutSimDictionary(b.dir, filepath.Join(cfg.BinDir, "lava-dut-sim"))); err != nil {
			return nil, err
		}
		info.boards = append(info.boards, b)
	}
	if err := ensureQemuBoard(ctx, st); err != nil {
		return nil, err
	}
	return info, nil
}

func dutSimDictionary(dir, bin string) string {
	return fmt.Sprintf("{%% extends 'dut-sim.jinja2' %%}\n{%% set dut_sim_dir = '%s' %%}\n{%% set dut_sim_bin = '%s' %%}\n", dir, bin)
}

// ensureAdmin keeps the token in file when it still authenticates the admin.
func ensureAdmin(ctx context.Context, st *store.Store, file string) (string, error) {
	u, err := st.UserByName(ctx, adminName)
	if errors.Is(err, store.ErrNotFound) {
		u, err = st.CreateUser(ctx, store.NewUser{Username: adminName, IsSuperuser: true, IsStaff: true})
	}
	if err != nil {
		return "", fmt.Errorf("admin user: %w", err)
	}
	if b, err := os.ReadFile(file); err == nil {
		tok := strings.TrimSpace(string(b))
		if owner, err := st.UserByToken(ctx, tok); err == nil && owner.ID == u.ID {
			return tok, nil
		}
	}
	tok, _, err := st.CreateToken(ctx, u.ID, store.DefaultRealm, "lava-lab admin token")
	if err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	if err := os.WriteFile(file, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", file, err)
	}
	return tok, nil
}

// ensureWorker returns a fresh token for the lab's worker: only hashes are
// stored, so a restarted lab rotates it.
func ensureWorker(ctx context.Context, st *store.Store) (string, error) {
	_, err := st.WorkerByName(ctx, store.DefaultRealm, workerName)
	if errors.Is(err, store.ErrNotFound) {
		_, tok, err := st.CreateWorker(ctx, store.DefaultRealm, workerName, "lava-lab worker")
		if err != nil {
			return "", fmt.Errorf("create worker: %w", err)
		}
		return tok, nil
	}
	if err != nil {
		return "", fmt.Errorf("worker %s: %w", workerName, err)
	}
	tok, err := st.RotateWorkerToken(ctx, store.DefaultRealm, workerName)
	if err != nil {
		return "", fmt.Errorf("worker token: %w", err)
	}
	return tok, nil
}

func ensureBoard(ctx context.Context, st *store.Store, b board, dict string) error {
	_, err := st.DeviceByName(ctx, store.DefaultRealm, b.name)
	if errors.Is(err, store.ErrNotFound) {
		_, err = st.CreateDevice(ctx, store.DefaultRealm, store.NewDevice{
			Hostname: b.name, DeviceType: dutSimType, Worker: workerName, Dictionary: dict,
			Description: "simulated board",
		})
		if err != nil {
			return fmt.Errorf("create device %s: %w", b.name, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("device %s: %w", b.name, err)
	}
	// The binaries or the data folder may have moved since the last start.
	if err := st.SetDeviceDictionary(ctx, store.DefaultRealm, b.name, dict); err != nil {
		return fmt.Errorf("device %s dictionary: %w", b.name, err)
	}
	return nil
}

func setAdminPassword(ctx context.Context, st *store.Store, password string) error {
	u, err := st.UserByName(ctx, adminName)
	if err != nil {
		return fmt.Errorf("admin user: %w", err)
	}
	if err := st.SetPassword(ctx, u.ID, password); err != nil {
		return fmt.Errorf("admin password: %w", err)
	}
	return nil
}
