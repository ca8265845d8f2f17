package nginxrtmp

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/linkgate/linkgate/internal/testcaddy"
)

const (
	passcode  = "open-sesame-4711"
	streamKey = "sk-nginx-rtmp-test-0123456789"
	wrongKey  = "sk-nobody-has-this-key-0123456"

	// updateEvery is the test's notify_update_timeout: how often nginx
	// re-checks a running publish.
	updateEvery = 2 * time.Second
)

// TestNginxRTMP runs what an operator of nginx-rtmp runs: the built
// linkgate binary on its embedded store, Debian's nginx with the RTMP
// module and the README's configuration, ffmpeg as the encoder that
// publishes by stream key and as the player that watches the HLS through
// alias_auth. The stream key must show in no file name or playlist of the
// HLS output, which must be under the alias ID; a wrong key publishes
// nothing; deleting the alias cuts the running publish.
func TestNginxRTMP(t *testing.T) {
	tl := findTools(t)
	bin := testcaddy.BuildCaddy(t)
	gatewayDir, nginxDir := t.TempDir(), t.TempDir()
	hlsDir := filepath.Join(nginxDir, "hls")
	database := "sqlite:" + filepath.Join(gatewayDir, "linkgate.db")
	p := freePorts(t)

	gw := startGateway(t, bin, gatewayDir, database, p)
	startNginx(t, tl.nginx, nginxDir, nginxConfig(t, readmeConfig(t), nginxDir, hlsDir, p, updateEvery), p)
	token := createOrg(t, bin, gatewayDir, database)
	id := createAlias(t, gw.base, token)
	ingest := func(name string) string { return fmt.Sprintf("rtmp://127.0.0.1:%d/ingest/%s", p.rtmp, name) }
	playlist := gw.base + "/live/" + id + "/index.m3u8"

	if !t.Run("a wrong stream key publishes nothing", func(t *testing.T) {
		for _, u := range []string{ingest(wrongKey), ingest(id + "?key=" + wrongKey)} {
			pub := ffmpegPublish(t, tl.ffmpeg, u)
			pub.waitExit(t, 20*time.Second, "publishing with a wrong key")
			if pub.cmd.ProcessState.Success() {
				t.Errorf("ffmpeg publishing with a wrong key exited 0, want a refused publish:\n%s", pub.out.String())
			}
		}
		if files := hlsFiles(t, hlsDir); len(files) != 0 {
			t.Errorf("refused publishes left %v under hls_path", files)
		}
	}) {
		return
	}

	admittedBefore, deniedBefore := hookDecisions(t, gw.hooksBase)
	pub := ffmpegPublish(t, tl.ffmpeg, ingest(streamKey))
	ownPlaylist := filepath.Join(hlsDir, id, "index.m3u8")

	if !t.Run("publish by stream key: HLS under the alias ID", func(t *testing.T) {
		testcaddy.PollUntil(t, 30*time.Second, "nginx writes a playlist with a segment under the alias ID", func() bool {
			if !pub.running() {
				t.Fatalf("ffmpeg publishing by stream key exited: %v", pub.cmd.ProcessState)
			}
			for _, f := range hlsFiles(t, hlsDir) {
				if strings.Contains(f.path, streamKey) {
					t.Fatalf("hls_path holds %q, named after the stream key", f.path)
				}
			}
			b, err := os.ReadFile(ownPlaylist)
			return err == nil && strings.Contains(string(b), ".ts\n")
		})
		for _, f := range hlsFiles(t, hlsDir) {
			if strings.Contains(f.path, streamKey) {
				t.Errorf("hls_path holds %q, named after the stream key", f.path)
			}
			if top, _, _ := strings.Cut(f.path, "/"); top != id {
				t.Errorf("hls_path holds %q, outside the alias's directory %q", f.path, id)
			}
			if f.dir {
				continue
			}
			b, err := os.ReadFile(filepath.Join(hlsDir, filepath.FromSlash(f.path)))
			switch {
			case errors.Is(err, fs.ErrNotExist): // a segment nginx deleted meanwhile
			case err != nil:
				t.Fatal(err)
			case strings.Contains(string(b), streamKey):
				t.Errorf("%s under hls_path contains the stream key", f.path)
			}
		}
	}) {
		return
	}

	t.Run("the running publish survives its re-checks", func(t *testing.T) {
		// The publish and three update calls of the publisher: nginx
		// starts its push to the live application right after the publish,
		// so by then it has re-checked the push at least twice too.
		testcaddy.PollUntil(t, 8*updateEvery, "linkgate admits the publish and three re-checks", func() bool {
			if !pub.running() {
				t.Fatalf("ffmpeg publishing by stream key exited: %v", pub.cmd.ProcessState)
			}
			admitted, _ := hookDecisions(t, gw.hooksBase)
			return admitted-admittedBefore >= 4
		})
		if _, denied := hookDecisions(t, gw.hooksBase); denied != deniedBefore {
			t.Errorf("linkgate denied %v hook requests about a stream it admitted", denied-deniedBefore)
		}
		// A push cut and restarted shows to players as a discontinuity
		// after the one the stream starts with.
		b, err := os.ReadFile(ownPlaylist)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(b), "#EXT-X-DISCONTINUITY"); n > 1 {
			t.Errorf("the playlist has %d discontinuities, want at most the first:\n%s", n, b)
		}
	})

	t.Run("HLS plays through alias_auth with the passcode", func(t *testing.T) {
		frames, log, err := play(t, tl.ffmpeg, playlist, "-headers", "X-Alias-Passcode: "+passcode+"\r\n")
		if err != nil || frames == 0 {
			t.Errorf("ffmpeg playing with the passcode: %v, %d frames decoded:\n%s", err, frames, log)
		}
		frames, log, err = play(t, tl.ffmpeg, playlist)
		if err == nil || frames != 0 || !strings.Contains(log, "401") {
			t.Errorf("ffmpeg playing without credential: %v, %d frames decoded, want a 401:\n%s", err, frames, log)
		}
	})

	t.Run("segments follow on the session cookie or the playback token", func(t *testing.T) {
		r := do(t, http.MethodGet, playlist+"?passcode="+url.QueryEscape(passcode), nil, "")
		if r.status != http.StatusOK {
			t.Fatalf("playlist with ?passcode=: status %d: %s", r.status, r.body)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/vnd.apple.mpegurl" {
			t.Errorf("playlist Content-Type %q, want application/vnd.apple.mpegurl", ct)
		}
		cookie := sessionCookie(r, id)
		if cookie == "" {
			t.Fatalf("playlist with ?passcode=: no session cookie lgs_%s in %q", id, r.header.Values("Set-Cookie"))
		}
		var segments []string
		for line := range strings.Lines(string(r.body)) {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				segments = append(segments, line)
			}
		}
		if len(segments) == 0 {
			t.Fatalf("the playlist lists no segment:\n%s", r.body)
		}
		// MPEG-TS packets are 188 bytes and begin with the sync byte 0x47.
		mpegts := func(r reply) bool {
			return r.status == http.StatusOK && len(r.body) > 0 && len(r.body)%188 == 0 && r.body[0] == 0x47
		}
		for _, line := range segments {
			// The playlist names each segment with a playback token, for
			// players that keep no cookies; the cookie alone must do too.
			s, token, _ := strings.Cut(line, "?")
			if !strings.HasPrefix(token, "lgt=") {
				t.Errorf("segment %q carries no playback token", line)
			}
			u := gw.base + "/live/" + id + "/" + s
			if r := do(t, http.MethodGet, u, []string{"Cookie", cookie}, ""); !mpegts(r) {
				t.Errorf("segment %s with the session cookie: status %d, %d bytes, want 200 with MPEG-TS", s, r.status, len(r.body))
			}
			if r := do(t, http.MethodGet, gw.base+"/live/"+id+"/"+line, nil, ""); !mpegts(r) {
				t.Errorf("segment %s with the playlist's playback token: status %d, %d bytes, want 200 with MPEG-TS", s, r.status, len(r.body))
			}
			if r := do(t, http.MethodGet, u, nil, ""); r.status != http.StatusUnauthorized {
				t.Errorf("segment %s without credential: status %d, want 401", s, r.status)
			}
		}
		if r := do(t, http.MethodGet, playlist, []string{"Cookie", cookie}, ""); r.status != http.StatusOK {
			t.Errorf("playlist reload with the session cookie: status %d, want 200", r.status)
		}
	})

	t.Run("RTMP players cannot go around the gateway", func(t *testing.T) {
		for _, app := range []string{"live", "ingest"} {
			u := fmt.Sprintf("rtmp://127.0.0.1:%d/%s/%s", p.rtmp, app, id)
			if frames, log, err := play(t, tl.ffmpeg, u); err == nil || frames != 0 {
				t.Errorf("ffmpeg playing %s over RTMP: %v, %d frames decoded, want refused:\n%s", app, err, frames, log)
			}
		}
	})

	t.Run("deleting the alias cuts the publish", func(t *testing.T) {
		if !pub.running() {
			t.Fatalf("ffmpeg publishing by stream key exited before the alias was deleted: %v", pub.cmd.ProcessState)
		}
		r := do(t, http.MethodDelete, gw.base+"/organization/api/v1/alias/delete/"+id, []string{"Authorization", token}, "")
		if r.status != http.StatusOK {
			t.Fatalf("deleting the alias: status %d: %s", r.status, r.body)
		}
		// The next update call, at most updateEvery away, is refused and
		// nginx closes the publisher's connection.
		pub.waitExit(t, 3*updateEvery+5*time.Second, "after the alias was deleted")
		if pub.cmd.ProcessState.Success() {
			t.Errorf("ffmpeg exited 0, as at the end of its stream, want its publish cut:\n%s", pub.out.String())
		}
		if r := do(t, http.MethodGet, playlist+"?passcode="+url.QueryEscape(passcode), nil, ""); r.status != http.StatusNotFound {
			t.Errorf("playlist of the deleted alias: status %d, want 404", r.status)
		}
	})

	t.Run("linkgate logs no secret", func(t *testing.T) {
		out := gw.out.String()
		for name, secret := range map[string]string{"stream key": streamKey, "passcode": passcode, "organization token": token} {
			if strings.Contains(out, secret) {
				t.Errorf("linkgate's log contains the %s", name)
			}
		}
	})
}

// createAlias creates a live alias with the test's passcode and stream key
// through the API at base and returns its ID.
func createAlias(t *testing.T, base, token string) string {
	t.Helper()
	body := fmt.Sprintf(`{"type":"live","passcode":%q,"stream_key":%q,"expired_at":%d}`, passcode, streamKey, time.Now().Add(time.Hour).Unix())
	r := do(t, http.MethodPost, base+"/organization/api/v1/alias/create", []string{"Authorization", token}, body)
	if r.status != http.StatusCreated {
		t.Fatalf("creating an alias: status %d: %s", r.status, r.body)
	}
	var created struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(r.body, &created); err != nil || created.Data.ID == "" {
		t.Fatalf("creating an alias: body %s: %v", r.body, err)
	}
	return created.Data.ID
}

// hlsFile is a file or directory under hls_path.
type hlsFile struct {
	path string // slash-separated, relative to hls_path
	dir  bool
}

// hlsFiles lists everything under dir.
func hlsFiles(t *testing.T, dir string) []hlsFile {
	t.Helper()
	var files []hlsFile
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		switch {
		// nginx deletes old segments as it goes.
		case errors.Is(err, fs.ErrNotExist):
			return nil
		case err != nil:
			return err
		case path != dir:
			rel, err := filepath.Rel(dir, path)
			if err != nil {
				return err
			}
			files = append(files, hlsFile{path: filepath.ToSlash(rel), dir: d.IsDir()})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// sessionCookie returns the alias's session cookie as a Cookie header
// value, or "" if r sets none.
func sessionCookie(r reply, id string) string {
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "lgs_"+id {
			return c.Name + "=" + c.Value
		}
	}
	return ""
}
