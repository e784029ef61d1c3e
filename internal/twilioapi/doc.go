// Package twilioapi holds what the adapter and the simulator share about Twilio's REST
// API: the request signature Twilio puts on its webhooks (X-Twilio-Signature), and the
// form parameters of the Messages and Calls operations, generated from Twilio's OpenAPI
// spec.
//
// The parameters live in params_gen.go, written by
//
//	go generate ./internal/twilioapi
//
// from ../shared/twilio-oai/twilio_api_v2010.json next to the repository root (or
// $TWILIO_OAI_DIR/twilio_api_v2010.json). The spec is never copied into the repository;
// without it the generator leaves params_gen.go alone and the staleness test skips.
//
// The package has no dependencies beyond the standard library.
package twilioapi

//go:generate go run ./internal/gen
