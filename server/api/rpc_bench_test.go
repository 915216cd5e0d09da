package api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"golava/server/store"
	"golava/server/store/storetest"
	"golava/server/xmlrpc"
)

// BenchmarkXMLRPC measures scheduler.jobs.submit and scheduler.jobs.show
// over /RPC2 (HTTP, codec, auth, database) with 1 and 8 clients.
func BenchmarkXMLRPC(b *testing.B) {
	st := storetest.New(b)
	ctx := context.Background()
	u, err := st.CreateUser(ctx, store.NewUser{Username: "admin", IsSuperuser: true})
	if err != nil {
		b.Fatal(err)
	}
	token, _, err := st.CreateToken(ctx, u.ID, store.DefaultRealm, "")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := st.CreateDeviceType(ctx, store.DefaultRealm, store.NewDeviceType{Name: "qemu"}); err != nil {
		b.Fatal(err)
	}
	if _, err := st.CreateDevice(ctx, store.DefaultRealm, store.NewDevice{Hostname: "qemu-01", DeviceType: "qemu"}); err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(New(st, slog.New(slog.DiscardHandler), Config{}).Handler())
	b.Cleanup(ts.Close)
	call := func(hc *http.Client, method string, params ...any) (any, error) {
		body, err := xmlrpc.EncodeCall(method, params...)
		if err != nil {
			return nil, err
		}
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/RPC2", bytes.NewReader(body))
		req.SetBasicAuth("admin", token)
		resp, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, err
		}
		return xmlrpc.DecodeResponse(data, xmlrpc.DefaultLimits)
	}
	var ids []int64
	var idsMu sync.Mutex
	for _, op := range []string{"submit", "show"} {
		for _, clients := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/clients=%d", op, clients), func(b *testing.B) {
				per := map[string]int{"submit": 150, "show": 400}[op]
				for b.Loop() {
					lat := make([][]time.Duration, clients)
					var wg sync.WaitGroup
					start := time.Now()
					for c := range clients {
						wg.Go(func() {
							hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
							defer hc.CloseIdleConnections()
							for i := range per {
								t0 := time.Now()
								var v any
								var err error
								if op == "submit" {
									v, err = call(hc, "scheduler.jobs.submit", qemuJob)
								} else {
									idsMu.Lock()
									id := ids[(c*per+i)%len(ids)]
									idsMu.Unlock()
									v, err = call(hc, "scheduler.jobs.show", id)
								}
								if err != nil {
									b.Error(err)
									return
								}
								lat[c] = append(lat[c], time.Since(t0))
								if id, ok := v.(int64); ok {
									idsMu.Lock()
									ids = append(ids, id)
									idsMu.Unlock()
								}
							}
						})
					}
					wg.Wait()
					all := slices.Concat(lat...)
					slices.Sort(all)
					rate := float64(len(all)) / time.Since(start).Seconds()
					p50, p99 := all[len(all)/2], all[(len(all)-1)*99/100]
					b.ReportMetric(rate, "calls/s")
					b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
					fmt.Printf("XML-RPC %s, %d client(s): %.0f calls/s, p50 %.2f ms, p99 %.2f ms (%d calls)\n",
						op, clients, rate, float64(p50.Microseconds())/1000, float64(p99.Microseconds())/1000, len(all))
				}
			})
		}
	}
}
