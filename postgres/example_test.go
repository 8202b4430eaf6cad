package postgres_test

import (
	"context"
	"log"
	"net/http"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/scimkit/scim"
	"github.com/scimkit/scim/postgres"
)

// The production set-up: the host owns the connection pool, the store
// creates or migrates its tables in its own schema, and the handler serves
// SCIM on top of it.
func ExampleNew() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL")) // e.g. postgres://scim@db:5432/app
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	store, err := postgres.New(ctx, pool, postgres.WithSchema("scim"))
	if err != nil {
		log.Fatal(err)
	}
	tokens := scim.NewBearerTokens(scim.Token{
		Secret:    os.Getenv("SCIM_TOKEN"),
		Principal: scim.Principal{ID: "entra-prod", Tenant: "acme"},
	})
	h, err := scim.New(store, tokens)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", h) // beside the host's own routes
	log.Fatal(http.ListenAndServe(":8080", mux))
}
