// Package run owns lava-run: it turns a job definition and a rendered device
// configuration into a pipeline of actions (deploy, boot, test), runs it on
// one DUT with every timeout enforced, logs in LAVA's format and always powers off.
package run
