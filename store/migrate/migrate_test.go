package migrate

import (
	"testing"
	"testing/fstest"
)

func TestPending(t *testing.T) {
	fsys := fstest.MapFS{
		"m/0010_later.sql":  {Data: []byte("later")},
		"m/0002_second.sql": {Data: []byte("second")},
		"m/0001_first.sql":  {Data: []byte("first")},
		"m/README":          {Data: []byte("not a migration")},
	}
	got, err := Pending(fsys, "m", []int64{2})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Version != 1 || got[0].SQL != "first" || got[1].Version != 10 || got[1].Name != "m/0010_later.sql" {
		t.Fatalf("Pending = %+v, want 0001 then 0010", got)
	}
	if _, err := Pending(fstest.MapFS{"m/x_bad.sql": {}}, "m", nil); err == nil {
		t.Fatal("a file without a version number was taken")
	}
}
