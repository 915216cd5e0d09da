package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"golava/pkg/events"
)

// Every state change writes its event row in the same transaction (the
// outbox) and NOTIFYs the new row's id; the publisher reads rows in id order,
// so a restart of the publisher loses nothing.

// insertEventSQL writes the row and NOTIFYs its id in one statement, one
// round trip instead of two.
const insertEventSQL = `-- name: EventInsert :exec
WITH e AS (INSERT INTO events (realm_id, topic, username, data) VALUES ($1, $2, $3, $4) RETURNING id)
SELECT pg_notify('` + NotifyEvents + `', e.id::text) FROM e`

func insertEvent(ctx context.Context, tx pgx.Tx, realmID int64, topic, username, data string) error {
	if _, err := tx.Exec(ctx, insertEventSQL, realmID, topic, username, data); err != nil {
		return fmt.Errorf("insert %s event: %w", topic, err)
	}
	return nil
}

// jobEvent records a .testjob event for j, whose joined names must be filled.
func jobEvent(ctx context.Context, tx pgx.Tx, j *Job) error {
	return insertEvent(ctx, tx, j.RealmID, events.TopicTestJob, j.Submitter, jobEventData(j))
}

// jobEventData is the data of j's .testjob event (the batched scheduler
// writes it too, so both stay byte for byte the same).
func jobEventData(j *Job) string {
	var o events.Ordered
	o.Set("health", j.Health).Set("state", j.State).Set("job", j.ID).
		Set("description", j.Description).Set("priority", j.Priority).
		Set("submit_time", j.SubmitTime).Set("submitter", j.Submitter).
		Set("health_check", j.HealthCheck)
	if j.IsMultinode() {
		o.Set("sub_id", j.SubID)
	}
	if j.ActualDevice != nil {
		o.Set("device", *j.ActualDevice)
		if j.Worker != nil {
			o.Set("worker", *j.Worker)
		}
	}
	if j.RequestedDeviceType != nil {
		o.Set("device_type", *j.RequestedDeviceType)
	}
	if j.StartTime != nil {
		o.Set("start_time", *j.StartTime)
	}
	if j.EndTime != nil {
		o.Set("end_time", *j.EndTime)
	}
	return o.String()
}

// deviceEvent records a .device event for d, whose joined names must be filled.
func deviceEvent(ctx context.Context, tx pgx.Tx, d *Device) error {
	return insertEvent(ctx, tx, d.RealmID, events.TopicDevice, events.ServerUser, deviceEventData(d))
}

// deviceEventData is the data of d's .device event.
func deviceEventData(d *Device) string {
	var o events.Ordered
	o.Set("health", d.Health).Set("state", d.State).Set("device", d.Hostname).
		Set("device_type", d.DeviceType)
	if d.Worker != nil {
		o.Set("worker", *d.Worker)
	} else {
		o.Set("worker", nil)
	}
	if d.CurrentJob != nil {
		if d.CurrentSubID != "" {
			o.Set("job", d.CurrentSubID)
		} else {
			o.Set("job", *d.CurrentJob)
		}
	}
	return o.String()
}

// workerEvent records a .worker event.
func workerEvent(ctx context.Context, tx pgx.Tx, w *Worker) error {
	var o events.Ordered
	o.Set("hostname", w.Hostname).Set("health", w.Health).Set("state", w.State)
	return insertEvent(ctx, tx, w.RealmID, events.TopicWorker, events.ServerUser, o.String())
}

// logEvent records a .event event, from a lava-event log line.
func logEvent(ctx context.Context, tx pgx.Tx, realmID, jobID int64, message string) error {
	var o events.Ordered
	o.Set("message", message).Set("job", jobID)
	return insertEvent(ctx, tx, realmID, events.TopicEvent, events.ServerUser, o.String())
}
