package scim_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestREADMEInstall runs the README's install commands, as written, in a
// new module that imports this one from its checkout, offline, and builds
// it: the steps must be enough (a -replace alone is not: the build stops
// with "replaced but not required").
func TestREADMEInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	section, _, _ := strings.Cut(string(readme[strings.Index(string(readme), "## Install"):]), "\n## ")
	block := regexp.MustCompile("(?s)```sh\n(.*?)```").FindStringSubmatch(section)
	require.NotNil(t, block, "the Install section has a sh block")
	checkout, err := filepath.Abs(".")
	require.NoError(t, err)

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/host\n\ngo 1.23\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(`package main

import (
	"fmt"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

func main() {
	h, err := scim.New(memstore.New(), scim.NewBearerTokens())
	fmt.Println(h != nil, err)
}
`), 0o644))
	run := func(args ...string) (string, error) {
		cmd := exec.Command(goCmd, args...)
		cmd.Dir = dir
		// Offline: the module cache that built these tests has what the
		// commands need.
		cmd.Env = append(os.Environ(), "GOPROXY=off", "GOSUMDB=off", "GOFLAGS=-mod=mod", "GOWORK=off")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for _, line := range strings.Split(strings.TrimSpace(block[1]), "\n") {
		line, _, _ = strings.Cut(line, "#")
		fields := strings.Fields(strings.ReplaceAll(line, "../scim", checkout))
		require.NotEmpty(t, fields)
		require.Equal(t, "go", fields[0], "the Install block runs go commands: %q", line)
		out, err := run(fields[1:]...)
		if err != nil && strings.Contains(out, "GOPROXY=off") && !strings.Contains(out, "github.com/scimkit/scim@") {
			t.Skipf("the module cache lacks a dependency: %s", out)
		}
		require.NoError(t, err, "%s: %s", line, out)
	}
	out, err := run("build", "-o", os.DevNull, ".")
	require.NoError(t, err, "after the README's install commands the host builds: %s", out)
}
