//go:build !race

package idptest_test

const raceEnabled = false
