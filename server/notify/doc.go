// Package notify owns job notifications: it follows the job events of the
// outbox and, for jobs whose definition has a notify block whose criteria
// match, sends email (SMTP) and calls callbacks (HTTP with retries), once each.
package notify
