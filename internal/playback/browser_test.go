package playback

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/linkgate/linkgate/internal/testcaddy"
)

// playerPage plays the HLS URL in its fragment with hls.js (the copy the
// console serves), and reports in window.result what it buffered.
const playerPage = `<!doctype html>
<title>player</title>
<video id="v" muted></video>
<script type="module">
import Hls from './hls.min.mjs';
const result = window.result = { fragments: 0, buffered: 0, error: '' };
const video = document.getElementById('v');
const hls = new Hls({ workerPath: '/hls.worker.js' });
hls.on(Hls.Events.FRAG_BUFFERED, () => {
  result.fragments++;
  const b = video.buffered;
  result.buffered = b.length ? b.end(b.length - 1) - b.start(0) : 0;
});
hls.on(Hls.Events.ERROR, (_, data) => {
  if (data.fatal || data.response) result.error += data.details + ' ' + (data.response ? data.response.code : '') + '; ';
});
hls.loadSource(decodeURIComponent(location.hash.slice(1)));
hls.attachMedia(video);
</script>
`

// findChromium returns Debian's Chromium. Without one the test skips,
// unless CI is set.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, path := range []string{os.Getenv("LINKGATE_CHROMIUM"), "/usr/bin/chromium"} {
		if path == "" {
			continue
		}
		if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return path
		}
	}
	if path, err := exec.LookPath("chromium"); err == nil {
		return path
	}
	if os.Getenv("CI") != "" {
		t.Fatal("Chromium is required when CI is set (install Debian's chromium, or set LINKGATE_CHROMIUM)")
	}
	t.Skip("skipping: no Chromium (install Debian's chromium, or set LINKGATE_CHROMIUM)")
	return ""
}

// playInChromium plays stream with hls.js in headless Chromium, from a
// page on another site than the gateway: its requests carry no cookie, and
// no cookie the gateway sets is kept. It returns how many seconds of media
// hls.js buffered, and the errors it reported.
func playInChromium(t *testing.T, stream string) (buffered float64, errors string) {
	t.Helper()
	chromium := findChromium(t)
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/player.html":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, playerPage)
		case "/hls.min.mjs", "/hls.worker.js":
			w.Header().Set("Content-Type", "text/javascript")
			http.ServeFile(w, r, "../../console/assets"+r.URL.Path)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(page.Close)
	var output testcaddy.Buffer
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox, // root in containers; the page is our own
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.CombinedOutput(&output),
	)
	ctx, cancelTimeout := context.WithTimeout(context.Background(), 90*time.Second)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithErrorf(t.Logf))
	defer func() {
		cancelBrowser()
		cancelAlloc()
		cancelTimeout()
		if t.Failed() && output.Len() > 0 {
			t.Logf("Chromium's output:\n%s", output.String())
		}
	}()
	// localhost is another site than 127.0.0.1, where the gateway is.
	pageURL := fmt.Sprintf("http://localhost:%d/player.html#%s", page.Listener.Addr().(*net.TCPAddr).Port, url.QueryEscape(stream))
	if err := chromedp.Do(browserCtx, chromedp.Navigate(pageURL)); err != nil {
		t.Fatalf("opening the player: %v", err)
	}
	type state struct {
		Fragments int
		Buffered  float64
		Error     string
	}
	var result state
	testcaddy.PollUntil(t, 60*time.Second, "hls.js buffers the stream or fails", func() bool {
		var err error
		if result, err = chromedp.Run(browserCtx, chromedp.Evaluate[state](`window.result || {}`)); err != nil {
			t.Fatalf("reading the player's state: %v", err)
		}
		return result.Buffered >= 2.5 || result.Error != ""
	})
	return result.Buffered, result.Error
}
