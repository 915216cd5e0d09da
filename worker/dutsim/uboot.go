package dutsim

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// action is what a bootloader command asks for.
type action int

const (
	actNone  action = iota
	actBoot         // continue to the kernel
	actReset        // restart the bootloader
)

const ubootPrompt = "=> "

// maxRunDepth bounds `run` recursion, as a bootcmd may run itself.
const maxRunDepth = 16

func defaultEnv(name string, delay time.Duration) map[string]string {
	return map[string]string{
		"arch":           "arm",
		"baudrate":       "115200",
		"board":          "dut-sim",
		"board_name":     name,
		"bootcmd":        "booti ${kernel_addr_r} - ${fdt_addr_r}",
		"bootdelay":      fmt.Sprint(countdownSteps(delay)),
		"fdt_addr_r":     "0x83000000",
		"kernel_addr_r":  "0x80080000",
		"ramdisk_addr_r": "0x84000000",
		"stderr":         "serial",
		"stdin":          "serial",
		"stdout":         "serial",
		"ver":            "U-Boot 2023.01 (dut-sim)",
	}
}

func (s *session) bootloader() (action, error) {
	err := s.printLines("", "U-Boot 2023.01 (dut-sim)", "",
		"CPU:   dut-sim virtual ARMv8 (2 cores)",
		"Model: golava dut-sim ("+s.b.name+")",
		"DRAM:  1 GiB",
		"Core:  12 devices, 8 uclasses, devicetree: board",
		"MMC:   mmc@0: 0",
		"Loading Environment from nowhere... OK",
		"In:    serial",
		"Out:   serial",
		"Err:   serial",
		"Net:   eth0: ethernet@0")
	if err != nil {
		return actNone, err
	}
	stopped, err := s.countdown()
	if err != nil {
		return actNone, err
	}
	if !stopped {
		act, err := s.exec(s.env["bootcmd"], 0)
		if err != nil || act != actNone {
			return act, err
		}
	}
	return s.bootPrompt()
}

func countdownSteps(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// countdown prints U-Boot's autoboot countdown; a typed byte stops it.
func (s *session) countdown() (bool, error) {
	steps := countdownSteps(s.set.AutobootDelay)
	step := s.set.AutobootDelay / time.Duration(steps)
	if err := s.print(fmt.Sprintf("Hit any key to stop autoboot: %2d ", steps)); err != nil {
		return false, err
	}
	for n := steps - 1; n >= 0; n-- {
		key, err := s.waitKey(step)
		if err != nil {
			return false, err
		}
		if key {
			return true, s.print("\b\b\b 0 \r\n")
		}
		if err := s.print(fmt.Sprintf("\b\b\b%2d ", n)); err != nil {
			return false, err
		}
	}
	return false, s.print("\r\n")
}

func (s *session) bootPrompt() (action, error) {
	for {
		if err := s.print(ubootPrompt); err != nil {
			return actNone, err
		}
		line, err := s.lines.readLine(true)
		if err != nil {
			return actNone, err
		}
		act, err := s.exec(line, 0)
		if err != nil || act != actNone {
			return act, err
		}
	}
}

// exec runs a command line: commands separated by ';', hush-style quotes and
// $var expansion.
func (s *session) exec(line string, depth int) (action, error) {
	for _, args := range splitCommands(line, s.env) {
		if len(args) == 0 {
			continue
		}
		act, err := s.command(args, depth)
		if err != nil || act != actNone {
			return act, err
		}
	}
	return actNone, nil
}

func (s *session) command(args []string, depth int) (action, error) {
	switch args[0] {
	case "help", "?":
		return actNone, s.printLines(helpLines...)
	case "version":
		return actNone, s.printLines("", "U-Boot 2023.01 (dut-sim)", "gcc (Debian 12.2.0-14) 12.2.0", "GNU ld (GNU Binutils for Debian) 2.40")
	case "printenv":
		return actNone, s.printLines(s.printenv(args[1:])...)
	case "setenv":
		if len(args) < 2 {
			return actNone, s.printLines("Usage:", "setenv name [value ...]")
		}
		if len(args) == 2 {
			delete(s.env, args[1])
		} else {
			s.env[args[1]] = strings.Join(args[2:], " ")
		}
		return actNone, nil
	case "echo":
		return actNone, s.printLines(strings.Join(args[1:], " "))
	case "boot", "bootm", "booti", "bootz":
		return actBoot, s.printLines("## Flattened Device Tree blob at 83000000", "   Booting using the fdt blob at 0x83000000")
	case "run":
		return s.runVars(args[1:], depth)
	case "reset":
		return actReset, s.printLines("resetting ...")
	case "dhcp", "tftp", "tftpboot":
		return actNone, s.printLines(s.netLines(args)...)
	default:
		return actNone, s.printLines(fmt.Sprintf("Unknown command '%s' - try 'help'", args[0]))
	}
}

var helpLines = []string{
	"?         - alias for 'help'",
	"boot      - boot the default way, i.e. run 'bootcmd'",
	"booti     - boot a Linux kernel 'Image' from memory",
	"bootm     - boot an application image from memory",
	"bootz     - boot a Linux kernel 'zImage' from memory",
	"dhcp      - get an IP address over the network",
	"echo      - print arguments to the console",
	"help      - print this list of commands",
	"printenv  - print environment variables",
	"reset     - reset the CPU",
	"run       - run commands held in environment variables",
	"setenv    - set or delete environment variables",
	"tftpboot  - load a file over the network with TFTP",
	"version   - print the bootloader version",
}

func (s *session) printenv(names []string) []string {
	if len(names) > 0 {
		out := make([]string, 0, len(names))
		for _, n := range names {
			if v, ok := s.env[n]; ok {
				out = append(out, n+"="+v)
			} else {
				out = append(out, fmt.Sprintf("## Error: \"%s\" not defined", n))
			}
		}
		return out
	}
	keys := make([]string, 0, len(s.env))
	size := 0
	for k, v := range s.env {
		keys = append(keys, k)
		size += len(k) + len(v) + 2
	}
	slices.Sort(keys)
	out := make([]string, 0, len(keys)+2)
	for _, k := range keys {
		out = append(out, k+"="+s.env[k])
	}
	return append(out, "", fmt.Sprintf("Environment size: %d/8188 bytes", size))
}

func (s *session) runVars(names []string, depth int) (action, error) {
	if depth >= maxRunDepth {
		return actNone, s.printLines("## Error: run: too many nested levels")
	}
	for _, n := range names {
		v, ok := s.env[n]
		if !ok {
			return actNone, s.printLines(fmt.Sprintf("## Error: \"%s\" not defined", n))
		}
		act, err := s.exec(v, depth+1)
		if err != nil || act != actNone {
			return act, err
		}
	}
	return actNone, nil
}

// netLines fakes a successful network load, so bootloader scripts that fetch
// a kernel before booting still work.
func (s *session) netLines(args []string) []string {
	out := []string{"ethernet@0 Waiting for PHY auto negotiation to complete... done",
		"BOOTP broadcast 1", "DHCP client bound to address 10.0.2.15 (2 ms)"}
	s.env["ipaddr"] = "10.0.2.15"
	if args[0] == "dhcp" {
		return out
	}
	s.env["filesize"] = "400"
	file := args[len(args)-1]
	if len(args) == 1 {
		file = s.env["bootfile"]
	}
	return []string{"Using ethernet@0 device",
		fmt.Sprintf("TFTP from server %s; our IP address is 10.0.2.15", s.env["serverip"]),
		fmt.Sprintf("Filename '%s'.", file), "Load address: " + s.env["kernel_addr_r"],
		"Loading: #", "done", "Bytes transferred = 1024 (400 hex)"}
}

// splitCommands splits a bootloader line into commands and words: ';'
// separates commands, single quotes are literal, double quotes and bare
// words expand $name and ${name} from env.
func splitCommands(line string, env map[string]string) [][]string {
	var cmds [][]string
	var words []string
	var word strings.Builder
	inWord := false
	var quote byte
	endWord := func() {
		if inWord {
			words = append(words, word.String())
			word.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote == '\'' && c != '\'':
			word.WriteByte(c)
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '\'' || c == '"'):
			quote, inWord = c, true
		case c == '$':
			var v string
			v, i = expandVar(line, i, env)
			word.WriteString(v)
			// An unset variable outside quotes leaves no empty word, as in hush.
			inWord = inWord || v != "" || quote != 0
		case quote == 0 && c == ';':
			endWord()
			cmds = append(cmds, words)
			words = nil
		case quote == 0 && (c == ' ' || c == '\t'):
			endWord()
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	endWord()
	return append(cmds, words)
}

// expandVar expands the variable starting at line[i] ('$') and returns its
// value and the index of its last byte.
func expandVar(line string, i int, env map[string]string) (string, int) {
	if i+1 < len(line) && line[i+1] == '{' {
		end := strings.IndexByte(line[i+2:], '}')
		if end < 0 {
			return "$", i
		}
		return env[line[i+2:i+2+end]], i + 2 + end
	}
	j := i + 1
	for j < len(line) && (line[j] == '_' || line[j] >= 'a' && line[j] <= 'z' ||
		line[j] >= 'A' && line[j] <= 'Z' || line[j] >= '0' && line[j] <= '9') {
		j++
	}
	if j == i+1 {
		return "$", i
	}
	return env[line[i+1:j]], j - 1
}
