package run

import (
	"errors"
	"time"

	"go.bug.st/serial"

	"golava/pkg/devconf"
)

// ConnectSerial opens a serial line of the worker as the DUT's console:
// raw 8N1 at the configured speed, no flow control. A line that does not
// exist or is busy is an InfrastructureError (the lab's fault).
func ConnectSerial(sp *devconf.SerialPort, log *Logger) (*Console, error) {
	port, err := serial.Open(sp.Port, &serial.Mode{BaudRate: sp.Baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		return nil, InfraError("Unable to open serial port %s at %d baud: %v", sp.Port, sp.Baud, err)
	}
	c := newConsole(log)
	c.line = &serialLine{Port: port, coalesce: coalesceFor(sp.Baud)}
	close(c.waited) // no process to reap
	go c.readLoop()
	return c, nil
}

// serialLine turns go.bug.st/serial's end of data into errors the console
// understands: a Read of 0 bytes without error means the port was closed.
// It also coalesces reads: a UART hands over a few bytes at a time, and
// waking for each costs more CPU than the bytes (two system calls and a
// thread hand-off). After a short read it lets coalesce pass before the
// next, so a 115200 baud console wakes lava-run at most 40 times a second
// and the console's output is seen at most that late.
type serialLine struct {
	serial.Port
	coalesce time.Duration
	last     time.Time
	short    bool
}

// coalesceFor is 25 ms, or less on a line fast enough to bring 1 KiB
// sooner, so the kernel's buffer (4 KiB) never fills while we wait.
func coalesceFor(baud int) time.Duration {
	const limit = 25 * time.Millisecond
	if baud <= 0 {
		return 0
	}
	kib := time.Duration(1024*10) * time.Second / time.Duration(baud) // 10 bits a byte on an 8N1 line
	return min(limit, kib)
}

func (s *serialLine) Read(p []byte) (int, error) {
	if s.short {
		if wait := s.coalesce - time.Since(s.last); wait > 0 {
			time.Sleep(wait)
		}
	}
	n, err := s.Port.Read(p)
	s.last, s.short = time.Now(), n < len(p)/2
	if n == 0 && err == nil {
		return 0, errors.New("serial line closed")
	}
	return n, err
}
