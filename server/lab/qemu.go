package lab

import (
	"context"
	"errors"
	"fmt"
	"os/exec"

	"golava/server/store"
)

// The QEMU board the lab registers when QEMU is installed, so a new user can
// run a real boot at once (device type qemu, amd64, TCG).
const (
	qemuType   = "qemu"
	qemuBoard  = "qemu-01"
	qemuBinary = "qemu-system-x86_64"
)

// qemuDictionary uses the qemu device type as it is; jobs choose the arch
// and memory in their context.
const qemuDictionary = "{% extends 'qemu.jinja2' %}\n"

// ensureQemuBoard registers qemu-01 when qemu-system-x86_64 is on PATH.
func ensureQemuBoard(ctx context.Context, st *store.Store) error {
	if _, err := exec.LookPath(qemuBinary); err != nil {
		return nil
	}
	if _, err := st.DeviceTypeByName(ctx, store.DefaultRealm, qemuType); errors.Is(err, store.ErrNotFound) {
		if _, err := st.CreateDeviceType(ctx, store.DefaultRealm, store.NewDeviceType{Name: qemuType, Description: "QEMU virtual board (TCG)"}); err != nil {
			return fmt.Errorf("create device type %s: %w", qemuType, err)
		}
	} else if err != nil {
		return fmt.Errorf("device type %s: %w", qemuType, err)
	}
	_, err := st.DeviceByName(ctx, store.DefaultRealm, qemuBoard)
	if errors.Is(err, store.ErrNotFound) {
		_, err = st.CreateDevice(ctx, store.DefaultRealm, store.NewDevice{
			Hostname: qemuBoard, DeviceType: qemuType, Worker: workerName, Dictionary: qemuDictionary,
			Description: "QEMU x86_64 board",
		})
	}
	if err != nil {
		return fmt.Errorf("device %s: %w", qemuBoard, err)
	}
	return nil
}
