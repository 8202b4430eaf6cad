//go:build race

package idptest_test

// raceEnabled: the race detector is on, and the load cycle is smaller.
const raceEnabled = true
