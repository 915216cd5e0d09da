// Package devconf owns device configuration: rendering a device dictionary
// through the device-type Jinja2 templates, and the typed model of the
// rendered YAML that lava-run reads (commands, prompts, boot methods, timeouts).
package devconf
