//go:build race

package strictjson

// raceEnabled: the race detector is on, and sync.Pool drops some of what
// it is given, so allocations cannot be counted.
const raceEnabled = true
