// Package notifytest holds test helpers for notifications: an SMTP sink on
// 127.0.0.1 that accepts every message, so tests check the mails a lab
// sends without a real mail server.
package notifytest
