// Package artifacts owns the bytes of the per-realm artifact areas (payload
// and temp): the Backend interface with its filesystem and S3 stores, path
// rules, storage flags, and the Service that pairs objects with store rows.
package artifacts
