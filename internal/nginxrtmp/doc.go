// Package nginxrtmp holds the test of linkgate against a real nginx-rtmp:
// ffmpeg publishes by stream key, nginx asks the built linkgate binary
// through its hooks, and the HLS that nginx cuts plays through alias_auth.
// nginx runs the configuration the README gives, read from the README.
package nginxrtmp
