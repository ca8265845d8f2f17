// Package adversary attacks the built binary as an outside reviewer did:
// guessing, spoofing, smuggling and confusing, each attack a test that
// fails if the gateway, the API or the hooks let it through.
package adversary
