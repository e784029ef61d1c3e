// Package e2e drives the built caddy binary (CADDY_BIN) end to end: the
// twilio_sms adapter in one caddy process in front of the twilio_simulator in
// another, both on loopback ports chosen at run time. It holds only tests; see
// TESTING.md at the repository root for how to run them and what they cover.
package e2e
