package run

import (
	"bytes"
	"testing"
	"time"

	"golava/pkg/testshell"
)

// BenchmarkConsoleFeed measures the console reader's cost per byte of DUT
// output: line splitting, logging (encoding included) and the line handler.
func BenchmarkConsoleFeed(b *testing.B) {
	chunk := bytes.Repeat([]byte("[   12.345678] usb 1-1: new high-speed USB device number 2 using xhci_hcd\r\n"), 55)
	c := &Console{log: NewLogger(SinkFunc(func(string) {})), notify: make(chan struct{}, 1)}
	c.idle = time.AfterFunc(time.Hour, func() {})
	c.idle.Stop()
	c.SetLineHandler(func(l string) { testshell.ParseLine(testshell.CleanLine(l)) })
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for b.Loop() {
		c.feed(chunk)
	}
}
