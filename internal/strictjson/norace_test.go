//go:build !race

package strictjson

// raceEnabled: the race detector is on (see race_test.go).
const raceEnabled = false
