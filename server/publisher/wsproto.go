package publisher

import (
	"bufio"
	"crypto/sha1" //nolint:gosec // RFC 6455 fixes SHA-1 for the handshake
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// The server side of RFC 6455, just what /ws/ needs. It is written here,
// not taken from a library, so that a burst of events goes out as many
// frames in one write: one syscall per frame (what a general library does)
// was most of the cost of fanning out to a thousand clients.

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// WebSocket opcodes and close codes used here.
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA

	closeNormal        = 1000
	closeGoingAway     = 1001
	closeProtocolError = 1002
	closeTooBig        = 1009
	closeTryAgainLater = 1013
)

var errProtocol = errors.New("websocket protocol error")

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// wsAccept checks the upgrade request, hijacks the connection and answers
// 101. On error it has written the HTTP error.
func wsAccept(w http.ResponseWriter, r *http.Request) (net.Conn, *bufio.Reader, error) {
	if r.Method != http.MethodGet {
		http.Error(w, "websocket: GET required", http.StatusMethodNotAllowed)
		return nil, nil, errProtocol
	}
	if !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket") {
		w.Header().Set("Upgrade", "websocket")
		http.Error(w, "websocket: this endpoint needs a WebSocket upgrade", http.StatusUpgradeRequired)
		return nil, nil, errProtocol
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		w.Header().Set("Sec-WebSocket-Version", "13")
		http.Error(w, "websocket: version 13 required", http.StatusUpgradeRequired)
		return nil, nil, errProtocol
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if raw, err := base64.StdEncoding.DecodeString(key); err != nil || len(raw) != 16 {
		http.Error(w, "websocket: bad Sec-WebSocket-Key", http.StatusBadRequest)
		return nil, nil, errProtocol
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "websocket: connection cannot be upgraded", http.StatusInternalServerError)
		return nil, nil, fmt.Errorf("hijack: %w", err)
	}
	sum := sha1.Sum([]byte(key + wsGUID)) //nolint:gosec // see above
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n"
	if _, err := conn.Write([]byte(resp)); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("write handshake: %w", err)
	}
	return conn, brw.Reader, nil
}

// appendFrameHeader appends an unmasked server frame header.
func appendFrameHeader(b []byte, op byte, n int) []byte {
	b = append(b, 0x80|op)
	switch {
	case n <= 125:
		return append(b, byte(n))
	case n <= 0xFFFF:
		return binary.BigEndian.AppendUint16(append(b, 126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, 127), uint64(n))
	}
}

// writeFrame writes one frame into w (a buffered writer).
func writeFrame(w io.Writer, op byte, payload []byte) error {
	var hdr [10]byte
	if _, err := w.Write(appendFrameHeader(hdr[:0], op, len(payload))); err != nil {
		return err
	}
	_, err := w.Write(payload)
	return err
}

func closePayload(code int, reason string) []byte {
	if len(reason) > 123 {
		reason = reason[:123]
	}
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}

// frame is a client frame; Payload is unmasked only for control frames.
type frame struct {
	Op      byte
	Fin     bool
	Payload []byte
}

// readFrame reads one client frame. Data payloads are skipped (the
// publisher ignores what clients say) but bounded by limit.
func readFrame(br *bufio.Reader, limit int64) (frame, error) {
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return frame{}, err
	}
	f := frame{Op: h[0] & 0x0F, Fin: h[0]&0x80 != 0}
	if h[0]&0x70 != 0 {
		return f, fmt.Errorf("%w: reserved bits set", errProtocol)
	}
	if h[1]&0x80 == 0 {
		return f, fmt.Errorf("%w: client frame not masked", errProtocol)
	}
	n := int64(h[1] & 0x7F)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return f, err
		}
		n = int64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return f, err
		}
		u := binary.BigEndian.Uint64(b[:])
		if u > 1<<62 {
			return f, fmt.Errorf("%w: frame length %d", errProtocol, u)
		}
		n = int64(u)
	}
	control := f.Op >= 0x8
	switch {
	case control && (n > 125 || !f.Fin):
		return f, fmt.Errorf("%w: bad control frame", errProtocol)
	case f.Op > opBinary && !control, f.Op > opPong:
		return f, fmt.Errorf("%w: opcode %d", errProtocol, f.Op)
	case n > limit:
		return f, errTooBig
	}
	var mask [4]byte
	if _, err := io.ReadFull(br, mask[:]); err != nil {
		return f, err
	}
	if !control {
		_, err := br.Discard(int(n))
		return f, err
	}
	f.Payload = make([]byte, n)
	if _, err := io.ReadFull(br, f.Payload); err != nil {
		return f, err
	}
	for i := range f.Payload {
		f.Payload[i] ^= mask[i%4]
	}
	return f, nil
}

var errTooBig = errors.New("websocket message too big")
