package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPprof starts the example server with -pprof: the profiles are served
// on that address only, never beside /scim/v2/.
func TestPprof(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the tests that start server processes")
	}
	pprofAddr := freeAddr(t)
	p := startProcess(t, "pprof-token", "-postgres=", "-pprof", pprofAddr)

	get := func(url string) (int, []byte) {
		t.Helper()
		resp, err := http.Get(url)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, body
	}
	status, body := get("http://" + pprofAddr + "/debug/pprof/cmdline")
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, string(body), "-pprof")

	status, body = get("http://" + pprofAddr + "/debug/pprof/profile?seconds=1")
	require.Equal(t, http.StatusOK, status)
	require.GreaterOrEqual(t, len(body), 2)
	assert.Equal(t, []byte{0x1f, 0x8b}, body[:2], "a CPU profile is gzipped protobuf")

	status, _ = get(strings.TrimSuffix(p.url, "/scim/v2") + "/debug/pprof/")
	assert.Equal(t, http.StatusNotFound, status, "the SCIM listener serves no profiles")
}
