// Package secrets owns the encryption of realm secrets (paths /lava/REALM/NAME):
// a master key kept outside the database wraps one data key per realm, and each
// secret value is sealed with its realm's data key, bound to its path.
package secrets
