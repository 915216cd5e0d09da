// Package migrations holds the numbered SQL migrations of the golava schema.
// They are embedded so every binary that opens the database can apply them;
// server/store runs them with goose.
package migrations
