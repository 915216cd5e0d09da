// Package publisher owns event delivery: a Hub that follows the events
// outbox (LISTEN lava_events plus a safety poll) in id order and fans each
// event out to WebSocket clients (/ws/), a ZMQ PUB socket and ZMQ PUSH peers.
package publisher
