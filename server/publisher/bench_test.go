package publisher_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golava/server/publisher"
	"golava/server/store/storetest"
)

// BenchmarkFanOut measures events per second from the outbox through the
// hub to N WebSocket clients that keep up: each iteration commits 1000
// events in one transaction and waits until every client has read them all.
// "filtered" clients are anonymous behind the visibility filter of /ws/.
func BenchmarkFanOut(b *testing.B) {
	for _, tc := range []struct {
		clients  int
		filtered bool
	}{{100, false}, {1000, false}, {1000, true}} {
		clients := tc.clients
		name := fmt.Sprintf("clients=%d", clients)
		if tc.filtered {
			name += ",filtered"
		}
		b.Run(name, func(b *testing.B) {
			st := storetest.New(b)
			h := publisher.NewHub(st, testLogger(b), publisher.HubConfig{})
			hubRun(b, h)
			url := startWS(b, h)
			if tc.filtered {
				if _, err := st.Pool().Exec(context.Background(), `WITH t AS (INSERT INTO device_types (realm_id, name) VALUES (1, 'qemu') RETURNING id)
					INSERT INTO devices (realm_id, hostname, device_type_id) SELECT 1, h, id FROM t, unnest(ARRAY['qemu-01', 'qemu-02']) h`); err != nil {
					b.Fatal(err)
				}
				vis := publisher.NewVisibility(st, testLogger(b), publisher.VisibilityConfig{})
				srv := httptest.NewServer(h.WSHandlerFiltered(vis.Filter))
				b.Cleanup(srv.Close)
				url = "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws/"
			}
			var received atomic.Int64
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			for range clients {
				c, err := rawWSDial(url)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				go rawWSCount(c, &received)
			}
			eventually(b, "every client subscribed", func() bool { return h.Stats().Subscribers == clients })
			const perIter = 1000
			var want int64
			start := time.Now()
			for b.Loop() {
				_, err := st.Pool().Exec(ctx, `WITH ins AS (
					INSERT INTO events (realm_id, topic, username, data)
					SELECT 1, 'device', 'lavaserver', '{"health": "Good", "state": "Idle", "device": "qemu-0' || (g % 2 + 1) || '", "device_type": "qemu", "worker": null}'
					FROM generate_series(1, $1) g RETURNING id)
					SELECT pg_notify('lava_events', max(id)::text) FROM ins`, perIter)
				if err != nil {
					b.Fatal(err)
				}
				want += int64(perIter * clients)
				eventually(b, "all clients received the batch", func() bool { return received.Load() >= want })
			}
			elapsed := time.Since(start)
			b.ReportMetric(float64(b.N*perIter)/elapsed.Seconds(), "events/s")
			b.ReportMetric(float64(b.N*perIter*clients)/elapsed.Seconds(), "deliveries/s")
			if s := h.Stats(); s.Dropped > 0 {
				b.Errorf("%d clients dropped", s.Dropped)
			}
		})
	}
}

// rawWSDial is a minimal WebSocket client for the benchmark, so that the
// clients (in the same process, on the same cores) cost little next to the
// server being measured. The tests use a full client library instead.
func rawWSDial(url string) (*rawWS, error) {
	addr := strings.TrimPrefix(url, "ws://")
	host, path, _ := strings.Cut(addr, "/")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		return nil, err
	}
	req := "GET /" + path + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(conn, 64<<10)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return nil, fmt.Errorf("handshake: %s", resp.Status)
	}
	return &rawWS{Conn: conn, br: br}, nil
}

type rawWS struct {
	net.Conn
	br *bufio.Reader
}

// rawWSCount counts text frames until the connection ends.
func rawWSCount(c *rawWS, n *atomic.Int64) {
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(c.br, hdr[:2]); err != nil {
			return
		}
		op, size := hdr[0]&0x0F, int(hdr[1]&0x7F)
		switch size {
		case 126:
			if _, err := io.ReadFull(c.br, hdr[:2]); err != nil {
				return
			}
			size = int(binary.BigEndian.Uint16(hdr[:2]))
		case 127:
			if _, err := io.ReadFull(c.br, hdr[:8]); err != nil {
				return
			}
			size = int(binary.BigEndian.Uint64(hdr[:8]))
		}
		if _, err := c.br.Discard(size); err != nil {
			return
		}
		if op == 0x1 {
			n.Add(1)
		}
	}
}
