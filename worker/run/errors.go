package run

import (
	"context"
	"errors"
	"fmt"
)

// Error types reported in result.yaml (LAVA's LAVAError.error_type values).
const (
	TypeInfrastructure = "Infrastructure"
	TypeJob            = "Job"
	TypeTest           = "Test"
	TypeBug            = "Bug"
	TypeConfiguration  = "Configuration"
	TypeCanceled       = "Canceled"
	TypeTimeout        = "LAVATimeout"
)

// help lines logged at level error when a job fails, by error type.
var errorHelp = map[string]string{
	TypeInfrastructure: "InfrastructureError: The Infrastructure is not working correctly. Please report this error to LAVA admins.",
	TypeJob:            "JobError: Your job cannot terminate cleanly.",
	TypeTest:           "TestError: A test failed to run, look at the error message.",
	TypeBug:            "LAVABug: This is probably a bug in LAVA, please report it.",
	TypeConfiguration:  "ConfigurationError: The LAVA instance is not configured correctly. Please report this error to LAVA admins.",
	TypeCanceled:       "JobCanceled: The job was canceled",
	TypeTimeout:        "LAVATimeoutError: test shell has timed out.",
}

// Error is a classified job failure.
type Error struct {
	Type string
	Msg  string
	Err  error // wrapped cause, may be nil
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Err }

// Help is the one-line explanation LAVA logs for this class of error.
func (e *Error) Help() string { return errorHelp[e.Type] }

func newError(typ, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Type: typ, Msg: err.Error(), Err: errors.Unwrap(err)}
}

// JobError is a failure caused by the job or the image under test.
func JobError(format string, args ...any) *Error { return newError(TypeJob, format, args...) }

// InfraError is a failure of the lab: power, console, network.
func InfraError(format string, args ...any) *Error {
	return newError(TypeInfrastructure, format, args...)
}

// TestError is a failure inside the test shell.
func TestError(format string, args ...any) *Error { return newError(TypeTest, format, args...) }

// ConfigError is a broken device or dispatcher configuration.
func ConfigError(format string, args ...any) *Error {
	return newError(TypeConfiguration, format, args...)
}

// Bug is a failure of lava-run itself.
func Bug(format string, args ...any) *Error { return newError(TypeBug, format, args...) }

// errCanceled is the cancel cause set when lava-run receives SIGTERM.
var errCanceled = &Error{Type: TypeCanceled, Msg: "The job was canceled"}

// ErrCanceled is the cause to pass to the job context's cancel function
// when the job is canceled (SIGTERM).
var ErrCanceled error = errCanceled

// classify turns any error into an *Error, preferring the context cause
// (a timeout or a cancel) when the error came from a canceled context.
func classify(ctx context.Context, err error) *Error {
	if err == nil {
		return nil
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e
	}
	if cause := context.Cause(ctx); cause != nil {
		if e, ok := errors.AsType[*Error](cause); ok {
			return e
		}
	}
	if errors.Is(err, context.Canceled) {
		// Canceled without our cause: treat as a cancel, not a bug.
		return &Error{Type: TypeCanceled, Msg: errCanceled.Msg, Err: err}
	}
	return &Error{Type: TypeBug, Msg: err.Error(), Err: err}
}
