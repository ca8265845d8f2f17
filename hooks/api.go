package hooks

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// DefaultAPITimeout bounds each call to a media server's API.
const DefaultAPITimeout = 2 * time.Second

// maxAPIConns bounds the requests in flight to one media server: an alias
// with thousands of viewers, deleted, must not open thousands of
// connections to the server at once. Requests beyond it wait for a
// connection within their own timeout.
const maxAPIConns = 8

// maxAPIBody bounds what is read of an API answer: a page of a session
// list is the largest, at a few hundred bytes a session.
const maxAPIBody = 4 << 20

// API is a media server's HTTP API, through which linkgate ends sessions
// the server admitted. Credentials in the URL's user information are sent
// as HTTP basic authentication on every call; they never appear in an
// error or a log.
type API struct {
	base           url.URL
	user, password string
	client         *http.Client
	timeout        atomic.Int64
}

// ParseAPIURL checks an API's base URL: http or https, with a host, and
// neither query nor fragment. Its errors never quote the URL, which may
// hold a password.
func ParseAPIURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, errors.New("it is not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errors.New("its scheme must be http or https")
	case u.Host == "" || u.Hostname() == "":
		return nil, errors.New("it has no host")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, errors.New("it must have neither query nor fragment")
	case u.User != nil && u.User.Username() == "":
		return nil, errors.New("its user information has no user name")
	}
	return u, nil
}

// NewAPI returns the API at raw, a base URL as ParseAPIURL takes, whose
// calls each give up after timeout (DefaultAPITimeout when not positive).
func NewAPI(raw string, timeout time.Duration) (*API, error) {
	u, err := ParseAPIURL(raw)
	if err != nil {
		return nil, err
	}
	a := &API{base: *u}
	if u.User != nil {
		a.user = u.User.Username()
		a.password, _ = u.User.Password()
		a.base.User = nil
	}
	a.base.Path = strings.TrimSuffix(a.base.Path, "/")
	a.base.RawPath = ""
	a.client = &http.Client{
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxConnsPerHost:     maxAPIConns,
			MaxIdleConnsPerHost: maxAPIConns,
			IdleConnTimeout:     30 * time.Second,
			ForceAttemptHTTP2:   true,
		},
		// A redirect would carry the credentials elsewhere: the API's
		// answer is its first one.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	a.SetTimeout(timeout)
	return a, nil
}

// SetTimeout changes how long each call may take; a config reload that
// keeps the URL keeps the API and its sessions, with the new timeout.
func (a *API) SetTimeout(d time.Duration) {
	if d <= 0 {
		d = DefaultAPITimeout
	}
	a.timeout.Store(int64(d))
}

// Timeout is how long each call may take.
func (a *API) Timeout() time.Duration { return time.Duration(a.timeout.Load()) }

// IsCaller reports whether user and password are the credentials this
// API's calls carry: MediaMTX asks its authentication hook about calls to
// its own API too, and linkgate's calls must be let through. Both are
// compared in constant time; an API without credentials has no caller.
func (a *API) IsCaller(user, password string) bool {
	if a.user == "" {
		return false
	}
	u := subtle.ConstantTimeCompare([]byte(user), []byte(a.user))
	p := subtle.ConstantTimeCompare([]byte(password), []byte(a.password))
	return u&p == 1
}

// Close drops the API's idle connections.
func (a *API) Close() { a.client.CloseIdleConnections() }

// Failure codes of a call that got no usable answer, for logs: they never
// carry the URL or the server's words.
const (
	FailureTimeout          = "timeout"
	FailureUnreachable      = "unreachable"
	FailureUnauthorized     = "unauthorized"
	FailureUnexpectedStatus = "unexpected_status"
	FailureBadResponse      = "bad_response"
	// FailureRefused: SRS answered with an error code of its own.
	FailureRefused = "refused"
)

// callError is a call that failed, by its failure code.
type callError struct {
	code   string
	status int
}

func (e *callError) Error() string {
	if e.status != 0 {
		return fmt.Sprintf("%s (HTTP %d)", e.code, e.status)
	}
	return e.code
}

// failureCode is the failure code of an error a call returned.
func failureCode(err error) string {
	var ce *callError
	if errors.As(err, &ce) {
		return ce.code
	}
	return FailureUnreachable
}

// call makes one request to the API and returns the status. With out, a
// 2xx answer's JSON body is decoded into it. A status is an answer, not an
// error: what it means is the dialect's to say, but for 401 and 403,
// which no dialect expects.
func (a *API) call(ctx context.Context, method, path string, query url.Values, out any) (int, error) {
	u := a.base
	u.Path += path
	u.RawQuery = query.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return 0, &callError{code: FailureBadResponse}
	}
	if a.user != "" {
		req.SetBasicAuth(a.user, a.password)
	}
	req.Header.Set("Accept", "application/json")
	res, err := a.client.Do(req)
	if err != nil {
		// The error names the URL; only its kind is kept.
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return 0, &callError{code: FailureTimeout}
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return 0, &callError{code: FailureTimeout}
		}
		return 0, &callError{code: FailureUnreachable}
	}
	defer res.Body.Close()
	body := io.LimitReader(res.Body, maxAPIBody)
	switch {
	case res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden:
		io.Copy(io.Discard, body)
		return res.StatusCode, &callError{code: FailureUnauthorized, status: res.StatusCode}
	case out != nil && res.StatusCode >= 200 && res.StatusCode < 300:
		if err := json.NewDecoder(body).Decode(out); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return 0, &callError{code: FailureTimeout}
			}
			return res.StatusCode, &callError{code: FailureBadResponse, status: res.StatusCode}
		}
	}
	// Read to the end, so that the connection can serve the next call.
	io.Copy(io.Discard, body)
	return res.StatusCode, nil
}
