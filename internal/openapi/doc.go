// Package openapi checks the alias API's real responses against openapi.yaml.
package openapi
