package alias

import (
	"encoding/base64"
	"encoding/binary"
	"time"
)

// Cursor is a position in an organization's alias list, which is ordered by
// insertion time and then ID. A position, unlike an offset, stays put when
// aliases are inserted or deleted between two pages.
type Cursor struct {
	InsertedAt time.Time
	ID         string
}

const cursorVersion = 1

// Encode returns the cursor as the opaque string clients pass back in
// ?after=: a version byte, the insertion time in microseconds and the ID.
func (c Cursor) Encode() string {
	buf := make([]byte, 0, 9+len(c.ID))
	buf = append(buf, cursorVersion)
	buf = binary.BigEndian.AppendUint64(buf, uint64(c.InsertedAt.UnixMicro()))
	buf = append(buf, c.ID...)
	return base64.RawURLEncoding.EncodeToString(buf)
}

// DecodeCursor parses a cursor made by Encode; ok is false for anything
// else, including another spelling of the same bytes (base64 trailing
// bits), so that a cursor is one string, not many.
func DecodeCursor(s string) (c Cursor, ok bool) {
	if len(s) > base64.RawURLEncoding.EncodedLen(9+MaxIDLength) {
		return c, false
	}
	buf, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(buf) < 10 || buf[0] != cursorVersion {
		return c, false
	}
	id := string(buf[9:])
	if !ValidID(id) {
		return c, false
	}
	micros := int64(binary.BigEndian.Uint64(buf[1:9]))
	return Cursor{InsertedAt: time.UnixMicro(micros).UTC(), ID: id}, true
}
