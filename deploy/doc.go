// Package deploy holds no code: it is the folder of the deployment files
// (Dockerfile and compose scripts, systemd units and example settings,
// Prometheus and Grafana configuration, the example retention policy) and
// of the tests that check them against the code they configure.
package deploy
