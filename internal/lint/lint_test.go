package lint

import (
	"os"
	"os/exec"
	"testing"
)

// staticcheck is run at a pinned release through the Go module proxy, so
// that its dependencies stay out of linkgate's own module graph.
const staticcheck = "honnef.co/go/tools/cmd/staticcheck@v0.8.2"

// TestVetAndStaticcheck runs go vet and staticcheck on every package of
// the module; a finding of either fails the test with its report.
func TestVetAndStaticcheck(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("the lint test needs the go command on PATH, and CI is set")
		}
		t.Skip("the lint test needs the go command on PATH")
	}
	for _, args := range [][]string{
		{"vet", "./..."},
		{"run", staticcheck, "./..."},
	} {
		cmd := exec.Command(goTool, args...)
		cmd.Dir = "../.."
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("go %s: %v\n%s", args[0], err, out)
		}
	}
}
