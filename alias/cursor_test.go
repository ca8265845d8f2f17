package alias

import (
	"testing"
	"time"
)

func TestCursorRoundTrip(t *testing.T) {
	c := Cursor{InsertedAt: time.Date(2026, 11, 27, 9, 0, 0, 123456000, time.UTC), ID: "abc123def456"}
	got, ok := DecodeCursor(c.Encode())
	if !ok || !got.InsertedAt.Equal(c.InsertedAt) || got.ID != c.ID {
		t.Fatalf("round trip gave %+v, %v; want %+v", got, ok, c)
	}
	for _, bad := range []string{"", "x", "!!!!", "AQ", Cursor{ID: "bad id!"}.Encode(), "Ag" + c.Encode()[2:]} {
		if _, ok := DecodeCursor(bad); ok {
			t.Errorf("DecodeCursor(%q) accepted garbage", bad)
		}
	}
}
