package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	hotAliases = 50
	// churnAliases is how many churned aliases live at once: past it, every
	// create is followed by the delete of the oldest.
	churnAliases = 200
	churnEvery   = 100 * time.Millisecond
	viewerEvery  = 10 * time.Millisecond
)

// load is the traffic: viewers of a fixed set of aliases, admitted by
// passcode once and then by their session cookie, and an organizer who
// creates, updates, deletes and revokes users on other aliases while a
// viewer follows them.
type load struct {
	base, token string
	c           *http.Client

	requests                  atomic.Int64 // every request made
	resets                    atomic.Int64 // no answer: a connection refused, reset or cut
	errors                    atomic.Int64 // an answer the request should not have had
	creates, updates, deletes atomic.Int64
	revocations               atomic.Int64

	mu     sync.Mutex
	logged int // unexpected answers and missing ones logged so far

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startLoad(base, token string, viewers int) (*load, error) {
	l := &load{
		base:  base,
		token: token,
		c: &http.Client{
			Timeout:   5 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: viewers + 2},
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}
	hot := make([]string, hotAliases)
	for i := range hot {
		id, err := l.create("hot-passcode")
		if err != nil {
			return nil, fmt.Errorf("creating the viewers' aliases: %w", err)
		}
		hot[i] = id
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	for w := range viewers {
		l.every(ctx, viewerEvery, l.viewer(hot, w))
	}
	l.every(ctx, churnEvery, l.organizer())
	return l, nil
}

// every calls fn every interval until ctx is done.
func (l *load) every(ctx context.Context, interval time.Duration, fn func()) {
	l.wg.Go(func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				fn()
			}
		}
	})
}

func (l *load) stop() {
	l.cancel()
	l.wg.Wait()
}

// viewer goes through the hot aliases, one request a tick, with the
// session cookie once it has one.
func (l *load) viewer(hot []string, w int) func() {
	cookies := map[string]string{}
	i := w
	return func() {
		id := hot[i%len(hot)]
		i++
		path := "/live/" + id + "/segment.ts"
		header := http.Header{}
		if c, ok := cookies[id]; ok {
			header.Set("Cookie", c)
		} else {
			path += "?passcode=hot-passcode"
		}
		resp, ok := l.do(http.MethodGet, path, header, "", http.StatusOK)
		if !ok {
			return
		}
		for _, c := range resp.Cookies() {
			if c.Name == "lgs_"+id {
				cookies[id] = c.Name + "=" + c.Value
			}
		}
	}
}

// organizer creates an alias every tick, deletes the oldest once more
// than churnAliases live, and every other tick gives one a new passcode,
// as when a leaked one is replaced; a viewer follows, expecting 404 for
// the deleted alias and 401 for the old passcode. Every fifth tick it
// revokes a user on one of them, which then lists the revocation.
func (l *load) organizer() func() {
	var live []string
	step := 0
	return func() {
		step++
		id, err := l.create("churn-passcode")
		if err == nil {
			live = append(live, id)
			l.creates.Add(1)
		}
		if len(live) == 0 {
			return
		}
		if len(live) > churnAliases {
			if _, ok := l.do(http.MethodDelete, "/organization/api/v1/alias/delete/"+live[0], nil, "", http.StatusOK); ok {
				l.deletes.Add(1)
			}
			l.do(http.MethodGet, "/live/"+live[0]+"/segment.ts?passcode=churn-passcode", nil, "", http.StatusNotFound)
			live = live[1:]
		}
		if step%2 == 0 {
			target := live[rand.N(len(live))]
			body := fmt.Sprintf(`{"passcode":"churn-%d"}`, step)
			if _, ok := l.do(http.MethodPost, "/organization/api/v1/alias/update/"+target, nil, body, http.StatusOK); ok {
				l.updates.Add(1)
			}
			l.do(http.MethodGet, "/live/"+target+"/segment.ts?passcode=churn-passcode", nil, "", http.StatusUnauthorized)
		}
		if step%5 == 0 {
			target := live[rand.N(len(live))]
			body := fmt.Sprintf(`{"user_id":"soak-%d"}`, step)
			if _, ok := l.do(http.MethodPost, "/organization/api/v1/alias/revoke/"+target, nil, body, http.StatusOK); ok {
				l.revocations.Add(1)
			}
			l.do(http.MethodGet, "/organization/api/v1/alias/revocations/"+target, nil, "", http.StatusOK)
		}
	}
}

// create makes an alias through the API and returns its ID.
func (l *load) create(passcode string) (string, error) {
	resp, ok := l.do(http.MethodPost, "/organization/api/v1/alias/create", nil, createBody(passcode), http.StatusCreated)
	if !ok {
		return "", fmt.Errorf("no alias created")
	}
	var created struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(resp.body, &created); err != nil {
		return "", err
	}
	return created.Data.ID, nil
}

// answer is a response with its body read.
type answer struct {
	*http.Response
	body []byte
}

// do makes one request, with the organization token on API paths, and
// counts it: a reset when no answer came, an error when the status is not
// want.
func (l *load) do(method, path string, header http.Header, body string, want int) (answer, bool) {
	l.requests.Add(1)
	req, err := http.NewRequest(method, l.base+path, strings.NewReader(body))
	if err != nil {
		panic(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if !strings.HasPrefix(path, "/live/") {
		req.Header.Set("Authorization", "Bearer "+l.token)
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := l.c.Do(req)
	if err != nil {
		l.resets.Add(1)
		l.logf("soak: %s %s: no answer: %v", method, path, err)
		return answer{}, false
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		l.resets.Add(1)
		l.logf("soak: %s %s: answer cut: %v", method, path, err)
		return answer{}, false
	}
	if resp.StatusCode != want {
		l.errors.Add(1)
		l.logf("soak: %s %s: %d, want %d: %s", method, path, resp.StatusCode, want, raw)
		return answer{}, false
	}
	return answer{Response: resp, body: raw}, true
}

// logf logs the first ten unexpected answers: enough to tell what went
// wrong, not a flood when everything does.
func (l *load) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.logged < 10 {
		l.logged++
		log.Printf(format, args...)
	}
}
