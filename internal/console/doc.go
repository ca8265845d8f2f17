// Package console holds the browser tests of the organizer's console: the
// built binary serving it, headless Chromium using it, axe-core checking
// it, and ffmpeg feeding the stream its preview plays.
package console
