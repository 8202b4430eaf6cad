package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
)

// resolveToken returns the bearer token from the -token flag or the file
// -token-file names; "" leaves the choice to run ($SCIM_TOKEN, else a random
// one). A token on the command line is visible to every user of the machine
// in the process list, so it is taken with a warning.
func resolveToken(flagToken, file string, logger *slog.Logger) (string, error) {
	if flagToken != "" {
		logger.Warn("-token is visible to every user of this machine in the process list; pass the token in $SCIM_TOKEN or -token-file instead")
		return flagToken, nil
	}
	if file == "" {
		return "", nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("reading -token-file: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", errors.New("-token-file holds no token")
	}
	return token, nil
}
