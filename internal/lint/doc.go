// Package lint holds the test that keeps the code go vet and staticcheck
// clean, so that "go test ./..." checks them like everything else.
package lint
