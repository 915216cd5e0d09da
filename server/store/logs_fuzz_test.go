package store

import (
	"testing"
	"time"

	"golava/pkg/logfmt"
)

// FuzzDecodeRecord feeds log records from uploads (outside input) to the
// decoder and the upload checks: no panic, and whatever logfmt encodes
// decodes back to the same level and time.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(`{"dt": "2023-01-10T10:00:00.123456", "lvl": "info", "msg": "hello"}`)
	f.Add(`{"dt": "2023-01-10T10:00:00.123456", "lvl": "target", "msg": "a\x01b \xE9\n\"x\""}`)
	f.Add(`{"dt": "2023-01-10T10:00:00.123456", "lvl": "results", "msg": {"case": "boot", "definition": "0_smoke", "measurement": ! "1.5", "result": "pass", "starttc": ! "3"}}`)
	f.Add(`{"dt": "2023-01-10", "lvl": "results", "msg": [1, {a: *x}]}`)
	f.Add(`{&a [*a, *a]}`)
	f.Fuzz(func(t *testing.T, rec string) {
		_, _ = checkRecords([]string{rec})
		line, err := decodeRecord(rec)
		if err != nil {
			return
		}
		back, err := decodeRecord(logfmt.Encode(line))
		if err != nil {
			t.Fatalf("re-encoded %q does not decode: %v", logfmt.Encode(line), err)
		}
		if back.Lvl != line.Lvl || !back.DT.Equal(line.DT.Truncate(time.Microsecond)) {
			t.Fatalf("round trip %+v -> %+v", line, back)
		}
	})
}
