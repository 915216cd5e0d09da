package ops

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"golava/server/store/storetest"
)

// Each lab figure is counted per realm, under the realm's name.
func TestCollectorLabelsRealms(t *testing.T) {
	t.Parallel()
	st := storetest.New(t)
	ctx := context.Background()
	beta, err := st.CreateRealm(ctx, "beta", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO device_types (realm_id, name) VALUES (1, 'qemu'), ($1, 'qemu')`,
		`INSERT INTO devices (realm_id, hostname, device_type_id, health)
SELECT realm_id, 'qemu-0' || realm_id, id, 'Good' FROM device_types WHERE realm_id IN (1, $1)`,
		`INSERT INTO devices (realm_id, hostname, device_type_id, health)
SELECT realm_id, 'qemu-9', id, 'Bad' FROM device_types WHERE realm_id = $1`,
		`INSERT INTO workers (realm_id, hostname) VALUES ($1, 'w-beta')`,
	} {
		if _, err := st.Pool().Exec(ctx, q, beta.ID); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewDBCollector(st.Pool(), nil))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += " " + l.GetName() + "=" + l.GetValue()
			}
			got[key] = value(m)
		}
	}
	want := map[string]float64{
		"lava_devices device_type=qemu health=Good realm=default state=Idle": 1,
		"lava_devices device_type=qemu health=Good realm=beta state=Idle":    1,
		"lava_devices device_type=qemu health=Bad realm=beta state=Idle":     1,
		"lava_workers health=Active realm=beta state=Offline":                1,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
	if _, ok := got["lava_workers health=Active realm=default state=Offline"]; ok {
		t.Errorf("a worker counted in the default realm: %v", got)
	}
}

func value(m *dto.Metric) float64 {
	if g := m.GetGauge(); g != nil {
		return g.GetValue()
	}
	return 0
}
