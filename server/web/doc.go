// Package web serves the HTML user interface: dashboard, jobs and their logs,
// devices, workers, results, submission, login sessions, API tokens and user
// admin, at LAVA's URLs. Templates and assets come from golava/web.
package web
