package protocol

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Error codes shared by HTTP errors and error frames.
const (
	CodeBadRequest   = "bad_request"
	CodeUnauthorized = "unauthorized"
	CodeForbidden    = "forbidden"
	CodeNotFound     = "not_found"
	CodeConflict     = "conflict"
	CodeTooLarge     = "too_large"
	CodeRateLimited  = "rate_limited"
	CodeInternal     = "internal"
	// CodeInviteRequired (403): sign-up needs a valid invitation code.
	CodeInviteRequired = "invite_required"
	// CodeQuotaExceeded (413): the upload would take the account past its
	// upload quota.
	CodeQuotaExceeded = "quota_exceeded"
	// CodeInsufficientStorage (507): the server's disk is nearly full.
	CodeInsufficientStorage = "insufficient_storage"
	// CodeUnavailable: the server cannot store anything right now (its
	// database is unreachable); nothing was stored, and the same frame or
	// request may succeed after RetryAfter.
	CodeUnavailable = "unavailable"
	// CodeArchived (403): the room is archived, so it is read-only: nothing
	// can be posted, edited, deleted or reacted to until it is unarchived.
	CodeArchived = "archived"
)

// WebSocket close codes.
const (
	CloseNormal          = 1000
	CloseGoingAway       = 1001
	CloseTooBig          = 1009
	CloseInternal        = 1011
	CloseUnauthenticated = 4401
	CloseHeartbeat       = 4408
	CloseTooSlow         = 4429
)

// CodeError is an error with a protocol code. Handlers return it and one
// function renders it as an HTTP error or an error frame.
type CodeError struct {
	Code       string
	Msg        string
	RetryAfter time.Duration
}

func (e *CodeError) Error() string { return e.Code + ": " + e.Msg }

// Errorf returns a CodeError with a formatted message.
func Errorf(code, format string, args ...any) *CodeError {
	return &CodeError{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the protocol code of err: its own if it is (or wraps) a
// CodeError, CodeInternal otherwise.
func ErrorCode(err error) string {
	var ce *CodeError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return CodeInternal
}

// HTTPStatus maps an error code to its HTTP status.
func HTTPStatus(code string) int {
	switch code {
	case CodeBadRequest:
		return http.StatusBadRequest
	case CodeUnauthorized:
		return http.StatusUnauthorized
	case CodeForbidden, CodeInviteRequired, CodeArchived:
		return http.StatusForbidden
	case CodeNotFound:
		return http.StatusNotFound
	case CodeConflict:
		return http.StatusConflict
	case CodeTooLarge, CodeQuotaExceeded:
		return http.StatusRequestEntityTooLarge
	case CodeInsufficientStorage:
		return http.StatusInsufficientStorage
	case CodeRateLimited:
		return http.StatusTooManyRequests
	case CodeUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}
