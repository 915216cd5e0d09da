// Package web holds the web UI's embedded assets: html/template pages under
// templates/ and the static CSS and JavaScript under static/. The handlers
// that render them live in golava/server/web.
package web
