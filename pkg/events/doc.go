// Package events owns the wire format of LAVA events: the five-part message
// [topic, uuid, datetime, username, data JSON] sent on ZMQ and WebSocket, and
// the ordered, Python-style JSON of its data frame.
package events
