package scheduler_test

import (
	"testing"
	"time"

	"golava/server/scheduler"
	"golava/server/store"
)

// TestCheckDevicesSetsBad: a device whose dictionary does not render is set
// Bad before it gets a job (LAVA's is_valid check); a valid one takes the
// job; a later broken edit is caught too, a device without dictionary is
// left alone.
func TestCheckDevicesSetsBad(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	typ := l.deviceType("dut-sim", "")
	w := l.worker("w1")
	bad := l.device("bad", typ, w, store.DeviceGood)
	good := l.device("good", typ, w, store.DeviceGood)
	none := l.device("none", typ, w, store.DeviceGood)
	l.exec(`UPDATE devices SET dictionary = '{% extends ''no-such.jinja2'' %}' WHERE id = $1`, bad)
	l.exec(`UPDATE devices SET dictionary = '{% extends ''dut-sim.jinja2'' %}' WHERE id = $1`, good)
	r := start(t, l.st, scheduler.Config{CheckDevices: true, Tick: 100 * time.Millisecond})
	health := func(id int64) string { return l.str(`SELECT health FROM devices WHERE id = $1`, id) }
	waitFor(t, r.passes, "the broken device to go Bad", func() bool { return health(bad) == store.DeviceBad })
	if h := health(good); h != store.DeviceGood {
		t.Errorf("valid device: %s", h)
	}
	if h := health(none); h != store.DeviceGood {
		t.Errorf("device without dictionary: %s", h)
	}
	// The valid device becomes broken by an edit of its type's template.
	l.exec(`UPDATE device_types SET template = '{% if %}' WHERE id = $1`, typ)
	waitFor(t, r.passes, "the edited type's device to go Bad", func() bool { return health(good) == store.DeviceBad })
	if n := l.id(`SELECT count(*) FROM events WHERE topic = 'device' AND data::json->>'health' = 'Bad'`); n != 2 {
		t.Errorf("%d Bad device events, want 2", n)
	}
}
