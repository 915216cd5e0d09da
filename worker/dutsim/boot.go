package dutsim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"
)

// run is the life of one power session: bootloader, kernel, then login and
// shell until power off.
func (s *session) run() {
	defer close(s.done)
	err := s.boot()
	if err != nil && !errors.Is(err, context.Canceled) {
		s.b.logger.Error("board session failed", slog.String("board", s.b.name), slog.Any("error", err))
	}
}

func (s *session) boot() error {
	for {
		s.stage(StageBootloader)
		act, err := s.bootloader()
		if err != nil {
			return err
		}
		if act == actBoot {
			break
		}
		s.b.mu.Lock()
		s.b.boots++ // a bootloader reset is a reboot too
		s.b.mu.Unlock()
	}
	if err := s.kernel(); err != nil {
		return err
	}
	for {
		if err := s.login(); err != nil {
			return err
		}
		if err := s.shell(); err != nil {
			return err
		}
	}
}

// printLines prints each line with a serial console's "\r\n", and garbage
// between lines when the flag is set.
func (s *session) printLines(lines ...string) error {
	for _, l := range lines {
		if err := s.print(l + "\r\n"); err != nil {
			return err
		}
		if err := s.maybeGarbage(); err != nil {
			return err
		}
	}
	return nil
}

// maybeGarbage prints a burst of line noise when the garbage flag is set.
func (s *session) maybeGarbage() error {
	if !s.set.Flags.Garbage {
		return nil
	}
	return s.printBytes(garbage(4 + rand.IntN(13)))
}

// garbage returns n bytes of line noise: invalid UTF-8 and control bytes,
// never CR or LF so the line structure survives.
func garbage(n int) []byte {
	out := make([]byte, n)
	for i := range out {
		for {
			var c byte
			if rand.IntN(2) == 0 {
				c = byte(0x80 + rand.IntN(0x80)) // lone high bytes: never valid UTF-8 here
			} else {
				c = byte(rand.IntN(0x20))
			}
			if c != '\r' && c != '\n' {
				out[i] = c
				break
			}
		}
	}
	// A lone continuation byte guarantees the burst is not valid UTF-8.
	out[0] = 0xff
	return out
}

// silence is what a hung or panicked board does until power off.
func (s *session) silence(stage string) error {
	s.stage(stage)
	<-s.ctx.Done()
	return s.ctx.Err()
}

func (s *session) kernel() error {
	s.stage(StageKernel)
	if err := s.print("\r\nStarting kernel ...\r\n\r\n"); err != nil {
		return err
	}
	lines := kernelLines(s.b.name, s.env["bootargs"], s.set.BootLines)
	f := s.set.Flags
	limit := len(lines)
	switch {
	case f.Panic:
		limit = min(limit, 4)
	case f.HangAtBoot:
		limit = max(min(limit, 2), limit/2)
	}
	dropAt := min(1, limit-1)
	for i, l := range lines[:limit] {
		if err := s.printLines(l); err != nil {
			return err
		}
		if f.DropConnection && i == dropAt {
			s.b.con.drop("drop-connection flag")
		}
	}
	if f.Panic {
		if err := s.printLines(panicLines(len(lines))...); err != nil {
			return err
		}
		return s.silence(StagePanicked)
	}
	if f.HangAtBoot {
		return s.silence(StageHung)
	}
	return s.print("\r\nDebian GNU/Linux 12 dut-sim ttyAMA0\r\n\r\n")
}

// kernelLines returns n dmesg-like lines, the Linux version line second.
func kernelLines(name, bootargs string, n int) []string {
	base := []string{
		"Booting Linux on physical CPU 0x0000000000 [0x410fd034]",
		"Linux version 6.1.0-dut-sim (golava@dut-sim) (gcc (Debian 12.2.0-14) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT Tue Jan 10 00:00:00 UTC 2023",
		"Machine model: golava dut-sim (" + name + ")",
		strings.TrimSpace("Kernel command line: console=ttyAMA0,115200 root=/dev/ram0 " + bootargs),
		"Memory: 1012480K/1048576K available (12288K kernel code, 2048K rwdata)",
		"Calibrating delay loop (skipped), value calculated using timer frequency.. 100.00 BogoMIPS",
		"smp: Brought up 1 node, 2 CPUs",
		"Serial: AMBA PL011 UART driver",
		"9000000.pl011: ttyAMA0 at MMIO 0x9000000 (irq = 13, base_baud = 0) is a PL011 rev1",
		"Freeing unused kernel memory: 4096K",
		"Run /sbin/init as init process",
	}
	if n < 2 {
		// The version line is what people and tests look for: keep it.
		base = base[1:2]
		n = 1
	}
	lines := make([]string, 0, n)
	for i := range n {
		var text string
		if i < len(base) {
			text = base[i]
		} else {
			text = fmt.Sprintf("dut-sim: probing virtual device %d", i-len(base))
		}
		// The first lines are at time zero, as on a real board.
		micros := max(0, i-4) * 123457
		lines = append(lines, fmt.Sprintf("[%5d.%06d] %s", micros/1e6, micros%1e6, text))
	}
	return lines
}

func panicLines(n int) []string {
	ts := func(s string) string { return fmt.Sprintf("[%5d.%06d] %s", n/4+1, 234567, s) }
	const reason = "VFS: Unable to mount root fs on unknown-block(0,0)"
	return []string{
		ts("VFS: Cannot open root device \"ram0\" or unknown-block(0,0): error -6"),
		ts("Please append a correct \"root=\" boot option; here are the available partitions:"),
		ts("Kernel panic - not syncing: " + reason),
		ts("CPU: 0 PID: 1 Comm: swapper/0 Not tainted 6.1.0-dut-sim #1"),
		ts("Hardware name: golava dut-sim (DT)"),
		ts("Call trace:"),
		ts(" panic+0x18c/0x34c"),
		ts(" mount_block_root+0x1c8/0x220"),
		ts("---[ end Kernel panic - not syncing: " + reason + " ]---"),
	}
}

// lineReader reads typed lines for the bootloader and login prompts,
// echoing like a terminal.
type lineReader struct {
	s      *session
	skipLF bool // the last line ended in CR: a following LF belongs to it
}

const maxLine = 4096

func (r *lineReader) readLine(echo bool) (string, error) {
	var line []byte
	for {
		c, err := r.s.in.readByte(r.s.ctx)
		if err != nil {
			return "", err
		}
		if r.skipLF {
			r.skipLF = false
			if c == '\n' {
				continue
			}
		}
		var out string
		switch {
		case c == '\r' || c == '\n':
			r.skipLF = c == '\r'
			if echo {
				if err := r.s.print("\r\n"); err != nil {
					return "", err
				}
			}
			return string(line), nil
		case c == 0x08 || c == 0x7f:
			if len(line) > 0 {
				line = line[:len(line)-1]
				out = "\b \b"
			}
		case c == 0x03: // Ctrl-C abandons the line, as at a real prompt
			if echo {
				if err := r.s.print("^C\r\n"); err != nil {
					return "", err
				}
			}
			return "", nil
		case (c >= 0x20 || c == '\t') && len(line) < maxLine:
			if c == '\t' {
				c = ' '
			}
			line = append(line, c)
			out = string(c)
		}
		if echo && out != "" {
			if err := r.s.print(out); err != nil {
				return "", err
			}
		}
	}
}

// dropLF consumes the LF of a CRLF whose CR ended the last line, so it does
// not reach the next reader as an empty line.
func (r *lineReader) dropLF() {
	if !r.skipLF {
		return
	}
	r.skipLF = false
	in := r.s.in
	in.mu.Lock()
	if len(in.buf) > 0 && in.buf[0] == '\n' {
		in.buf = in.buf[1:]
	}
	in.mu.Unlock()
}

// waitKey waits up to d for a typed byte and consumes it.
func (s *session) waitKey(d time.Duration) (bool, error) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		if s.in.pending() {
			_, err := s.in.readByte(s.ctx)
			return err == nil, err
		}
		select {
		case <-s.ctx.Done():
			return false, s.ctx.Err()
		case <-timer.C:
			return false, nil
		case <-s.in.notify:
		}
	}
}
