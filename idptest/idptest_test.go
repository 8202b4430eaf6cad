package idptest_test

import (
	"io"
	"log/slog"
	"net/http"
	"os"
	"testing"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/idptest"
	"github.com/scimkit/scim/memstore"
)

const token = "s3cret"

// handler is the library's handler on a fresh memory store.
func handler(t testing.TB, opts ...scim.Option) http.Handler {
	t.Helper()
	h, err := scim.New(memstore.New(), scim.NewBearerTokens(scim.Token{Secret: token, Principal: scim.Principal{ID: "idp"}}),
		append([]scim.Option{scim.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestCyclesPass(t *testing.T) {
	for _, flag := range []bool{false, true} {
		r := idptest.Entra(t, handler(t), idptest.Options{Token: token, AADOptSCIM062020: flag})
		_ = r.WriteTable(os.Stdout)
	}
	r := idptest.Okta(t, handler(t), idptest.Options{Token: token})
	_ = r.WriteTable(os.Stdout)
}
