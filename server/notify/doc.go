// Package notify owns job notifications: it follows the job events of the
// outbox and, for jobs whose definition has a notify block whose criteria
// match, sends email (SMTP) and calls callbacks (HTTP with retries), once
// each; and it POSTs each realm notice to the realm's webhooks, once each.
package notify
