package nginxrtmp

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/linkgate/linkgate/internal/testcaddy"
)

// client bounds every request at 10 s, follows no redirects, keeps no
// cookies (the test sends the session cookie itself, to know what opened
// a segment) and keeps no idle connection.
var client = &http.Client{
	Timeout:       10 * time.Second,
	Transport:     &http.Transport{DisableKeepAlives: true},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// reply is an HTTP answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// send makes one request with the given headers (name, value, ...) and
// body, sent as JSON unless empty.
func send(t *testing.T, method, url string, headers []string, body string) (reply, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		return reply{}, err
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: reading the body: %w", method, url, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: raw}, nil
}

// do is send where a request that gets no answer fails the test.
func do(t *testing.T, method, url string, headers []string, body string) reply {
	t.Helper()
	r, err := send(t, method, url, headers, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return r
}

// hookDecisions reads linkgate's metrics at base and returns how many hook
// requests it admitted (acknowledgements aside) and how many it denied so
// far.
func hookDecisions(t *testing.T, base string) (admitted, denied float64) {
	t.Helper()
	r := do(t, http.MethodGet, base+"/metrics", nil, "")
	if r.status != http.StatusOK {
		t.Fatalf("GET /metrics: status %d: %s", r.status, r.body)
	}
	for line := range strings.Lines(string(r.body)) {
		if !strings.HasPrefix(line, "linkgate_auth_decisions_total{") || !strings.Contains(line, `handler="alias_hooks"`) {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(strings.TrimSpace(line[i+1:]), 64)
		if err != nil {
			t.Fatalf("GET /metrics: cannot read the line %q: %v", line, err)
		}
		switch {
		case strings.Contains(line, `outcome="allowed"`) && !strings.Contains(line, `reason="acknowledged"`):
			admitted += v
		case strings.Contains(line, `outcome="denied"`):
			denied += v
		}
	}
	return admitted, denied
}

// ffmpegPublish publishes a test picture and tone to url in real time,
// as an encoder would. The stream is 60 s long, so that an ffmpeg the test
// loses track of still ends; the test stops it sooner.
func ffmpegPublish(t *testing.T, ffmpeg, url string) *process {
	t.Helper()
	cmd := exec.Command(ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "warning", "-re",
		"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i", "sine",
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25", "-c:a", "aac",
		"-t", "60", "-f", "flv", url)
	return start(t, "ffmpeg publishing", cmd)
}

// play reads 2 s of the stream at url with ffmpeg, decoding it, with the
// given extra input options, and returns how many video frames it decoded,
// its log and its error (nil when it exited 0).
func play(t *testing.T, ffmpeg, url string, options ...string) (frames int, log string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	args := append([]string{"-hide_banner", "-nostdin", "-loglevel", "error"}, options...)
	args = append(args, "-i", url, "-t", "2", "-f", "null", "-progress", "pipe:1", "-nostats", "-")
	cmd := exec.CommandContext(ctx, ffmpeg, args...)
	testcaddy.DieWithTest(cmd)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	// -progress writes blocks of key=value lines; the last frame= is the
	// total.
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "frame="); ok {
			frames, _ = strconv.Atoi(v)
		}
	}
	return frames, stderr.String(), err
}
