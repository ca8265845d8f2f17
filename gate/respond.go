package gate

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// ErrorBody is the JSON body of every error linkgate answers.
type ErrorBody struct {
	Errors ErrorDetail `json:"errors"`
}

// ErrorDetail says what went wrong, for people and for programs.
type ErrorDetail struct {
	Detail string `json:"detail"`
	Code   string `json:"code"`
	// Field names the request body member a validation error is about.
	Field string `json:"field,omitempty"`
}

// WriteError writes the JSON error body with status.
func WriteError(w http.ResponseWriter, status int, code, detail string) {
	WriteJSON(w, status, ErrorBody{Errors: ErrorDetail{Detail: detail, Code: code}})
}

// WriteJSON writes v as the JSON body of a response with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"errors":{"detail":"internal error","code":"internal_error"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

// Challenge answers 401 with the Bearer challenge of RFC 6750; invalid
// tells that a credential was given and refused.
func Challenge(w http.ResponseWriter, invalid bool, detail string) {
	challenge := `Bearer realm="linkgate"`
	if invalid {
		challenge += `, error="invalid_token"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
	WriteError(w, http.StatusUnauthorized, "unauthorized", detail)
}

// WriteRefusal answers a refused decision over HTTP as the gateway and the
// API do: the JSON error body of its reason, a Bearer challenge on 401 and
// Retry-After on 429 and 503.
func WriteRefusal(w http.ResponseWriter, d *Decision) {
	status := d.Reason.Status()
	switch status {
	case http.StatusUnauthorized:
		// A credential that was given and refused, or revoked, is an
		// invalid token (RFC 6750); no credential at all is not.
		Challenge(w, d.Reason != ReasonNoCredential && d.Reason != ReasonPasscodePage, d.Reason.Detail())
		return
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", RetryAfter(d.RetryAfter))
	}
	WriteError(w, status, d.Reason.Code(), d.Reason.Detail())
}

// WriteUnavailable answers 503 with Retry-After: the store could not
// answer in time.
func WriteUnavailable(w http.ResponseWriter) {
	WriteRefusal(w, &Decision{Reason: ReasonUnavailable, RetryAfter: storeRetry})
}

// storeRetry is how soon a client may try again after the store failed.
const storeRetry = time.Second

// RetryAfter is a Retry-After value: whole seconds, rounded up, at least 1.
func RetryAfter(d time.Duration) string {
	return strconv.Itoa(max(int((d+time.Second-1)/time.Second), 1))
}
