package caddymodule

import "encoding/binary"

// wsFrames follows the frames one side of a WebSocket sends, so that a
// close frame can be put between two frames rather than inside one. Only
// the headers are read; payloads are counted, never copied.
type wsFrames struct {
	head    [maxFrameHeader]byte
	headLen int
	// payload is how many bytes of the current frame's payload are still
	// to come.
	payload uint64
}

// maxFrameHeader: two bytes, an eight-byte length and a four-byte mask.
const maxFrameHeader = 14

// atBoundary reports whether every frame begun has ended.
func (f *wsFrames) atBoundary() bool { return f.headLen == 0 && f.payload == 0 }

// advance reads p, the next bytes sent. With toBoundary it stops at the
// first frame boundary it reaches, at once if it is at one. It returns how
// many bytes of p it read.
func (f *wsFrames) advance(p []byte, toBoundary bool) int {
	n := 0
	for n < len(p) {
		if toBoundary && f.atBoundary() {
			return n
		}
		if f.payload > 0 {
			k := min(uint64(len(p)-n), f.payload)
			f.payload -= k
			n += int(k)
			continue
		}
		f.head[f.headLen] = p[n]
		f.headLen++
		n++
		if f.headLen == frameHeaderSize(f.head[:f.headLen]) {
			f.payload = framePayloadLen(f.head[:f.headLen])
			f.headLen = 0
		}
	}
	return n
}

// frameHeaderSize is the size of the header that begins with h, once its
// second byte is known.
func frameHeaderSize(h []byte) int {
	if len(h) < 2 {
		return 2
	}
	size := 2
	switch h[1] & 0x7f {
	case 126:
		size += 2
	case 127:
		size += 8
	}
	if h[1]&0x80 != 0 {
		size += 4
	}
	return size
}

func framePayloadLen(h []byte) uint64 {
	switch n := h[1] & 0x7f; n {
	case 126:
		return uint64(binary.BigEndian.Uint16(h[2:4]))
	case 127:
		return binary.BigEndian.Uint64(h[2:10])
	default:
		return uint64(n)
	}
}

// closeFrame is a server's close frame: unmasked, with a status code and a
// reason of at most 123 bytes.
func closeFrame(code uint16, reason string) []byte {
	reason = reason[:min(len(reason), 123)]
	frame := make([]byte, 0, 4+len(reason))
	frame = append(frame, 0x88, byte(2+len(reason)))
	frame = binary.BigEndian.AppendUint16(frame, code)
	return append(frame, reason...)
}
