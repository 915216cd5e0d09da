// Package scheduler hands queued jobs to idle devices: Decide is the pure
// matching decision over plain values, and Scheduler is the leader-elected
// service that loads the state from the store, decides and applies the plan.
package scheduler
