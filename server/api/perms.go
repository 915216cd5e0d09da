package api

import (
	"fmt"
	"net/http"

	"golava/pkg/jobdef"
	"golava/server/store"
)

// Object permission checks shared by REST and XML-RPC: an object the caller
// may not see is answered as missing (store.ErrNotFound).

// hiddenDeviceType is ErrNotFound when the caller may not see the type.
func (s *Server) hiddenDeviceType(r *http.Request, dtID int64) error {
	ok, err := s.store.CanViewDeviceType(r.Context(), dtID, userFrom(r))
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("device type %d: %w", dtID, store.ErrNotFound)
	}
	return nil
}

// hiddenDevice is ErrNotFound when the caller may not see the device.
func (s *Server) hiddenDevice(r *http.Request, d *store.Device) error {
	ok, err := s.store.CanViewDevice(r.Context(), d, userFrom(r))
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("device %q: %w", d.Hostname, store.ErrNotFound)
	}
	return nil
}

// submitDenied returns why user may not submit job (a device type, or a
// MultiNode role's, restricted by submit or view permissions), or "".
func (s *Server) submitDenied(r *http.Request, user *store.User, job *jobdef.Job) (string, error) {
	types := []string{job.DeviceType}
	if job.MultiNode != nil {
		types = types[:0]
		for _, role := range job.MultiNode.Roles {
			types = append(types, role.DeviceType)
		}
	}
	for _, name := range types {
		if name == "" {
			continue
		}
		ok, err := s.store.CanSubmitToDeviceType(r.Context(), realmOf(r), name, user)
		if err != nil {
			return "", err
		}
		if !ok {
			return deniedMessage(name, user), nil
		}
	}
	return "", nil
}

// deniedMessage is LAVA's refusal of a device type the user may not submit to.
func deniedMessage(deviceType string, user *store.User) string {
	return fmt.Sprintf("Device unavailable: device type '%s' is not available to user '%s'.", deviceType, user.Username)
}
