package devconf

// Device is a rendered device configuration. Fields lava-run acts on are
// typed; Raw keeps the whole mapping for everything else.
type Device struct {
	Hostname   string
	DeviceType string
	Commands   Commands
	// Parameters, Constants, Actions and Timeouts are the raw blocks of the same names.
	Parameters map[string]any
	Constants  map[string]any
	Actions    map[string]any
	Timeouts   map[string]any
	// CharacterDelays in milliseconds, per section (boot, test).
	CharacterDelays map[string]int
	Raw             map[string]any
}

// Commands are the shell commands lava-run runs on the lab host. A single
// string in the YAML becomes a one-item list.
type Commands struct {
	Connect     string
	PowerOn     []string
	PowerOff    []string
	HardReset   []string
	PreOS       []string
	PrePower    []string
	Connections map[string]Connection // connection_list / connections
}

// Connection is one named console connection: a command (telnet,
// ser2net, conmux, socat...) or a serial port lava-run opens itself.
type Connection struct {
	Connect string
	Tags    []string
	// Serial, when set, is a local serial line (connections.<name>.serial).
	Serial *SerialPort
}

// SerialPort is a serial line on the worker: port is its device path
// (/dev/ttyUSB0, /dev/serial/by-id/...), baud its speed (default 115200).
type SerialPort struct {
	Port string
	Baud int
}
