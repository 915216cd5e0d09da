package run

import (
	"errors"

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
	c.line = &serialLine{Port: port}
	close(c.waited) // no process to reap
	go c.readLoop()
	return c, nil
}

// serialLine turns go.bug.st/serial's end of data into errors the console
// understands: a Read of 0 bytes without error means the port was closed.
type serialLine struct{ serial.Port }

func (s *serialLine) Read(p []byte) (int, error) {
	n, err := s.Port.Read(p)
	if n == 0 && err == nil {
		return 0, errors.New("serial line closed")
	}
	return n, err
}
