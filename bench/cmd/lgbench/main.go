// Command lgbench holds the load tools of the benchmark scripts in bench/:
// an upstream that answers small requests, media segments and WebSocket
// upgrades; an open-loop constant-rate generator; a closed-loop driver over
// many aliases; a holder of many WebSocket connections; and concurrent
// organizers creating aliases. It talks to linkgate over HTTP only.
//
//	lgbench upstream -addr 127.0.0.1:PORT
//	lgbench rate     -rate N -duration D [-header H] URL
//	lgbench hit      -c N (-n N | -duration D) -ids FILE [-random] URL-TEMPLATE
//	lgbench ws       -n N -c N [-sources N] [-admin URL] [-pid PID] URL...
//	lgbench create   -c N -duration D -tokens FILE API-URL
//
// Each prints one line of key=value results on stdout for the scripts to
// read, and progress on stderr.
package main

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

func main() {
	cmds := map[string]func([]string) error{
		"upstream": runUpstream,
		"rate":     runRate,
		"hit":      runHit,
		"ws":       runWS,
		"create":   runCreate,
	}
	if len(os.Args) < 2 || cmds[os.Args[1]] == nil {
		fmt.Fprintln(os.Stderr, "usage: lgbench upstream|rate|hit|ws|create [flags]")
		os.Exit(2)
	}
	if err := cmds[os.Args[1]](os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "lgbench "+os.Args[1]+":", err)
		os.Exit(1)
	}
}

// headers is a repeatable -header "Name: value" flag.
type headers []string

func (h *headers) String() string { return strings.Join(*h, ", ") }
func (h *headers) Set(v string) error {
	if !strings.Contains(v, ":") {
		return fmt.Errorf("header %q is not Name: value", v)
	}
	*h = append(*h, v)
	return nil
}

func (h headers) apply(hdr map[string][]string) {
	for _, v := range h {
		name, value, _ := strings.Cut(v, ":")
		hdr[strings.TrimSpace(name)] = []string{strings.TrimSpace(value)}
	}
}

// percentiles sorts lat and returns the given quantiles in microseconds.
func percentiles(lat []time.Duration, qs ...float64) []float64 {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	out := make([]float64, len(qs))
	if len(lat) == 0 {
		return out
	}
	for i, q := range qs {
		k := int(q*float64(len(lat))+0.5) - 1
		k = min(max(k, 0), len(lat)-1)
		out[i] = float64(lat[k].Microseconds())
	}
	return out
}

// readLines reads the non-empty lines of a file.
func readLines(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out, nil
}
