package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestResolveToken(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(file, []byte("from-file\n"), 0o600))
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(empty, []byte(" \n"), 0o600))
	tests := []struct {
		name, flag, file, want string
		warns, fails           bool
	}{
		{name: "none: run picks $SCIM_TOKEN or a random one"},
		{name: "file", file: file, want: "from-file"},
		{name: "flag, with a warning", flag: "from-flag", want: "from-flag", warns: true},
		{name: "flag wins over file", flag: "from-flag", file: file, want: "from-flag", warns: true},
		{name: "empty file", file: empty, fails: true},
		{name: "missing file", file: filepath.Join(dir, "nope"), fails: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			got, err := resolveToken(tt.flag, tt.file, slog.New(slog.NewTextHandler(&logs, nil)))
			if tt.fails {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.warns, bytes.Contains(logs.Bytes(), []byte("process list")))
			assert.NotContains(t, logs.String(), "from-", "the token itself is never logged")
		})
	}
}
