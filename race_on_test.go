//go:build race

package scim_test

// raceEnabled tells tests that the race detector slows them down.
const raceEnabled = true
