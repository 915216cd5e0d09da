// Package artifactstest starts a real S3 server for tests: versitygw built
// by `make s3gw` (env GOLAVA_S3GW), on a free loopback port, over a
// temporary folder, stopped when the test ends.
package artifactstest
