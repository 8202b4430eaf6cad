package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
)

// runPostgres runs the scenarios on the PostgreSQL store.
func runPostgres(ctx context.Context, cfg config, out io.Writer, floorURL string, logger *slog.Logger) error {
	return errors.New("-postgres: the PostgreSQL store is not wired in yet")
}
