package manifest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// findFFmpeg returns Debian's ffmpeg, or the one on PATH. Without one the
// test skips, unless CI is set: there a missing ffmpeg must not pass as a
// skipped test.
func findFFmpeg(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("ffmpeg")
	if err == nil {
		return path
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("ffmpeg is required when CI is set: %v (install Debian's ffmpeg)", err)
	}
	t.Skipf("skipping: no ffmpeg: %v", err)
	return ""
}

// testSource is three seconds of test picture and tone, small enough that
// ffmpeg encodes it in a fraction of a second, with a keyframe every second
// so that one-second segments come out.
var testSource = []string{
	"-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=3",
	"-f", "lavfi", "-i", "sine=duration=3:sample_rate=8000",
	"-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-c:a", "aac", "-threads", "1",
}

// count returns how many times each of subs occurs in s, summed.
func count(s string, subs ...string) int {
	n := 0
	for _, sub := range subs {
		n += strings.Count(s, sub)
	}
	return n
}

// TestFFmpeg rewrites what ffmpeg's HLS and DASH muxers write and checks the
// result with the oracle: every URI that leads to the origin gains the
// parameter once, every other one and every other byte stays. want says how
// many URIs of each file should carry the token, counted from the file's own
// tags, so that a rewriter that skipped everything would fail too.
func TestFFmpeg(t *testing.T) {
	ffmpeg := findFFmpeg(t)
	for _, tc := range []struct {
		name string
		// write holds files to create before ffmpeg runs, by name.
		write map[string]string
		args  []string
		// files maps each playlist or manifest written to how many of its
		// URIs should carry the token.
		files map[string]func(doc string) int
	}{{
		name: "HLS MPEG-TS",
		args: []string{"-f", "hls", "-hls_time", "1", "-hls_list_size", "0", "index.m3u8"},
		files: map[string]func(string) int{
			"index.m3u8": func(d string) int { return count(d, "#EXTINF:") },
		},
	}, {
		name: "HLS fragmented MP4",
		args: []string{"-f", "hls", "-hls_time", "1", "-hls_list_size", "0", "-hls_segment_type", "fmp4", "index.m3u8"},
		files: map[string]func(string) int{
			"index.m3u8": func(d string) int { return count(d, "#EXTINF:", "#EXT-X-MAP:") },
		},
	}, {
		name: "HLS byte ranges of one file",
		args: []string{"-f", "hls", "-hls_time", "1", "-hls_list_size", "0", "-hls_flags", "single_file", "index.m3u8"},
		files: map[string]func(string) int{
			"index.m3u8": func(d string) int { return count(d, "#EXTINF:") },
		},
	}, {
		name: "HLS fragmented MP4 byte ranges, live window, date-time",
		args: []string{"-f", "hls", "-hls_time", "1", "-hls_list_size", "2", "-hls_segment_type", "fmp4",
			"-hls_flags", "single_file+program_date_time+independent_segments", "index.m3u8"},
		files: map[string]func(string) int{
			"index.m3u8": func(d string) int { return count(d, "#EXTINF:", "#EXT-X-MAP:") },
		},
	}, {
		// A key info file holds the key's URI, the key's file and an IV.
		name:  "HLS AES-128 with a key next to the playlist",
		write: map[string]string{"enc.key": "0123456789abcdef", "key.info": "keys/enc.key\nenc.key\n"},
		args:  []string{"-f", "hls", "-hls_time", "1", "-hls_list_size", "0", "-hls_key_info_file", "key.info", "index.m3u8"},
		files: map[string]func(string) int{
			"index.m3u8": func(d string) int { return count(d, "#EXTINF:", "#EXT-X-KEY:") },
		},
	}, {
		name:  "HLS AES-128 with a key on another host",
		write: map[string]string{"enc.key": "0123456789abcdef", "key.info": "https://keys.example/enc.key\nenc.key\n"},
		args:  []string{"-f", "hls", "-hls_time", "1", "-hls_list_size", "0", "-hls_key_info_file", "key.info", "index.m3u8"},
		files: map[string]func(string) int{
			"index.m3u8": func(d string) int { return count(d, "#EXTINF:") },
		},
	}, {
		name: "HLS segments under the origin's absolute URL",
		args: []string{"-f", "hls", "-hls_time", "1", "-hls_list_size", "0", "-hls_segment_type", "fmp4",
			"-hls_base_url", "https://gw.example/live/x/", "index.m3u8"},
		files: map[string]func(string) int{
			"index.m3u8": func(d string) int { return count(d, "#EXTINF:", "#EXT-X-MAP:") },
		},
	}, {
		name: "HLS segments on a CDN",
		args: []string{"-f", "hls", "-hls_time", "1", "-hls_list_size", "0", "-hls_segment_type", "fmp4",
			"-hls_base_url", "https://cdn.example/live/x/", "index.m3u8"},
		files: map[string]func(string) int{
			// ffmpeg writes the initialization section's URI relative.
			"index.m3u8": func(d string) int { return count(d, "#EXT-X-MAP:") },
		},
	}, {
		name: "HLS multivariant with an audio rendition",
		args: []string{"-map", "0:v", "-map", "0:v", "-map", "1:a", "-b:v:0", "60k", "-b:v:1", "30k",
			"-f", "hls", "-hls_time", "1", "-hls_list_size", "0", "-master_pl_name", "master.m3u8",
			"-var_stream_map", "v:0,agroup:aud v:1,agroup:aud a:0,agroup:aud",
			"-hls_segment_filename", "v%v/seg%d.ts", "v%v/index.m3u8"},
		files: map[string]func(string) int{
			"master.m3u8":   func(d string) int { return count(d, "#EXT-X-STREAM-INF:", "URI=\"") },
			"v0/index.m3u8": func(d string) int { return count(d, "#EXTINF:") },
			"v2/index.m3u8": func(d string) int { return count(d, "#EXTINF:") },
		},
	}, {
		name: "DASH SegmentTemplate with SegmentTimeline, and its HLS playlists",
		args: []string{"-map", "0:v", "-map", "1:a", "-f", "dash", "-seg_duration", "1", "-use_template", "1", "-use_timeline", "1",
			"-hls_playlist", "1", "-utc_timing_url", "https://gw.example/time", "manifest.mpd"},
		files: map[string]func(string) int{
			"manifest.mpd": func(d string) int { return 2 * count(d, "<SegmentTemplate ") },
			"master.m3u8":  func(d string) int { return count(d, "#EXT-X-STREAM-INF:", "URI=\"") },
			"media_0.m3u8": func(d string) int { return count(d, "#EXTINF:", "#EXT-X-MAP:") },
		},
	}, {
		name: "DASH SegmentTemplate with $Number$",
		args: []string{"-f", "dash", "-seg_duration", "1", "-use_template", "1", "-use_timeline", "0", "manifest.mpd"},
		files: map[string]func(string) int{
			"manifest.mpd": func(d string) int { return 2 * count(d, "<SegmentTemplate ") },
		},
	}, {
		name: "DASH SegmentList",
		args: []string{"-f", "dash", "-seg_duration", "1", "-use_template", "0", "manifest.mpd"},
		files: map[string]func(string) int{
			"manifest.mpd": func(d string) int { return count(d, "<SegmentURL ", "<Initialization sourceURL=") },
		},
	}, {
		name: "DASH one file per representation, BaseURL and byte ranges",
		args: []string{"-f", "dash", "-seg_duration", "1", "-single_file", "1", "manifest.mpd"},
		files: map[string]func(string) int{
			"manifest.mpd": func(d string) int { return count(d, "<BaseURL>") },
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tc.write {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			for name := range tc.files {
				if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			args := append([]string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y"}, testSource...)
			cmd := exec.Command(ffmpeg, append(args, tc.args...)...)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("ffmpeg %s: %v\n%s", strings.Join(tc.args, " "), err, out)
			}
			for name, want := range tc.files {
				in, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				rw := testRewriter()
				var out []byte
				var n int
				if strings.HasSuffix(name, ".mpd") {
					out, err = rw.DASH(nil, in)
					if err == nil {
						n = checkDASH(t, string(in), string(out))
					}
				} else {
					out, err = rw.HLS(nil, in)
					if err == nil {
						n = checkHLS(t, string(in), string(out))
					}
				}
				if err != nil {
					t.Fatalf("%s: %v\n%s", name, err, in)
				}
				if w := want(string(in)); n != w || w == 0 {
					t.Errorf("%s: %d URIs carry the token, want %d (and more than none):\n%s", name, n, w, out)
				}
			}
		})
	}
}
