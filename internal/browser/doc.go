// Package browser holds the real-browser test of the passcode page.
package browser
