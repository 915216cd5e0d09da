// Package storetest gives tests a real PostgreSQL: Main starts one
// throw-away cluster per test binary and migrates a template database; New
// and URL hand each test its own fresh copy, dropped when the test ends.
package storetest
