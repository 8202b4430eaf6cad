package idptest_test

// The kit proves it can fail: each cycle against a deliberately broken
// service reports the defect at the step where the identity provider
// would meet it.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/idptest"
	"github.com/scimkit/scim/memstore"
)

// storeHandler is the library's handler on store, quiet, with a cheap
// password hash: Argon2id costs about 50 ms a password (seconds under the
// race detector), and these tests are not about hashing.
func storeHandler(t testing.TB, store scim.Store, opts ...scim.Option) http.Handler {
	t.Helper()
	h, err := scim.New(store, scim.NewBearerTokens(scim.Token{Secret: token, Principal: scim.Principal{ID: "idp"}}),
		append([]scim.Option{scim.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), scim.WithPasswordHasher(scim.PasswordHasherFunc(cheapHash))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// cheapHash stands in for a real password hash in tests.
func cheapHash(p string) (string, error) {
	sum := sha256.Sum256([]byte(p))
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// forgetsActive is a store whose update path forgot the active column:
// Create keeps it, Replace keeps the stored value whatever it is handed.
type forgetsActive struct{ scim.Store }

func (s forgetsActive) Replace(ctx context.Context, res *scim.Resource, expected string) (*scim.Resource, error) {
	if res.Type == "User" {
		old, err := s.Store.Get(ctx, res.Type, res.ID)
		if err != nil {
			return nil, err
		}
		res = res.Clone()
		if v, ok := old.Attributes["active"]; ok {
			res.Attributes["active"] = v
		} else {
			delete(res.Attributes, "active")
		}
	}
	return s.Store.Replace(ctx, res, expected)
}

// okInsteadOfCreated answers 200 where the handler answers 201.
func okInsteadOfCreated(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(statusRewriter{w, http.StatusCreated, http.StatusOK}, r)
	})
}

type statusRewriter struct {
	http.ResponseWriter
	from, to int
}

func (w statusRewriter) WriteHeader(code int) {
	if code == w.from {
		code = w.to
	}
	w.ResponseWriter.WriteHeader(code)
}

// dropsStringBooleans is a PATCH that understands JSON booleans only: an
// operation whose value is "True" or "False" (or a path-less one holding
// such a value) is ignored, and a PATCH left with nothing to do answers
// 204 as if done.
func dropsStringBooleans(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPatch {
			h.ServeHTTP(w, r)
			return
		}
		var body map[string]any
		raw, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(raw, &body); err != nil {
			r.Body = io.NopCloser(bytes.NewReader(raw))
			h.ServeHTTP(w, r)
			return
		}
		ops, _ := body["Operations"].([]any)
		var kept []any
		for _, o := range ops {
			op, _ := o.(map[string]any)
			if stringBoolean(op["value"]) {
				continue
			}
			if m, ok := op["value"].(map[string]any); ok {
				for k, v := range m {
					if stringBoolean(v) {
						delete(m, k)
					}
				}
			}
			kept = append(kept, op)
		}
		if len(kept) == 0 {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		body["Operations"] = kept
		raw, _ = json.Marshal(body)
		r.Body = io.NopCloser(bytes.NewReader(raw))
		r.ContentLength = int64(len(raw))
		h.ServeHTTP(w, r)
	})
}

func stringBoolean(v any) bool {
	s, ok := v.(string)
	return ok && (strings.EqualFold(s, "true") || strings.EqualFold(s, "false"))
}

// caseExactUserName is a filter that ignores userName's case rule: an
// eq on userName matches only the exact case.
func caseExactUserName(h http.Handler) http.Handler {
	eq := regexp.MustCompile(`^userName eq "(.*)"$`)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := eq.FindStringSubmatch(r.URL.Query().Get("filter"))
		if r.Method != http.MethodGet || m == nil {
			h.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		var list map[string]any
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &list) != nil {
			copyResponse(w, rec)
			return
		}
		var kept []any
		resources, _ := list["Resources"].([]any)
		for _, e := range resources {
			if e.(map[string]any)["userName"] == m[1] {
				kept = append(kept, e)
			}
		}
		list["Resources"] = append([]any{}, kept...)
		list["totalResults"], list["itemsPerPage"] = len(kept), len(kept)
		b, _ := json.Marshal(list)
		w.Header().Set("Content-Type", "application/scim+json")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		_, _ = w.Write(b)
	})
}

func copyResponse(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// anyToken lets every caller in, whatever token it sends.
func anyToken(t testing.TB) http.Handler {
	h, err := scim.New(memstore.New(), scim.AuthenticatorFunc(func(*http.Request) (scim.Principal, error) {
		return scim.Principal{ID: "anyone"}, nil
	}), scim.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), scim.WithPasswordHasher(scim.PasswordHasherFunc(cheapHash)))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestBrokenServices runs each cycle against each broken service and
// checks where it fails; "" means the cycle must pass, for a defect the
// identity provider never meets.
func TestBrokenServices(t *testing.T) {
	type want struct{ entra, entraFlagged, okta string }
	for _, tc := range []struct {
		name    string
		handler func(t testing.TB) http.Handler
		want    want
		// says is a part of the failure's reason.
		says string
	}{
		{
			name:    "a store that loses active on update",
			handler: func(t testing.TB) http.Handler { return storeHandler(t, forgetsActive{memstore.New()}) },
			want:    want{"Disable users", "Disable users", "Deactivate users"},
			says:    `"active" true, expected false`,
		},
		{
			name:    "200 instead of 201 on create",
			handler: func(t testing.TB) http.Handler { return okInsteadOfCreated(handler(t)) },
			want:    want{"Initial cycle: users", "Initial cycle: users", "Push new users"},
			says:    "the service answered 200 OK to the create (POST /Users)",
		},
		{
			name:    "a PATCH that drops Entra ID's string booleans",
			handler: func(t testing.TB) http.Handler { return dropsStringBooleans(handler(t)) },
			want:    want{"Disable users", "", ""},
			says:    `"active" true, expected false`,
		},
		{
			name:    "a filter that ignores userName's case rule",
			handler: func(t testing.TB) http.Handler { return caseExactUserName(handler(t)) },
			want:    want{"Create a userName the app already has", "Create a userName the app already has", "Link a userName the app already has"},
			says:    "userName is case-insensitive",
		},
		{
			name:    "a handler that takes any token",
			handler: anyToken,
			want:    want{"Test Connection", "Test Connection", "Test API Credentials"},
			says:    "not 401 Unauthorized",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			all := allCycles()
			wants := map[string]string{all[0].name: tc.want.entra, all[1].name: tc.want.entraFlagged, all[2].name: tc.want.okta}
			cycles(t, func(t *testing.T, c cycle) {
				want := wants[c.name]
				{
					r := c.run(t, tc.handler(t), idptest.Options{Token: token})
					f := r.Failure()
					switch {
					case want == "" && f != nil:
						t.Fatalf("the cycle must pass, it failed:\n%v", f)
					case want == "":
						return
					case f == nil:
						t.Fatalf("the cycle passed; it must fail at %q", want)
					case f.Step != want:
						t.Fatalf("the cycle failed at %q, not at %q:\n%v", f.Step, want, f)
					case !strings.Contains(f.Reason, tc.says):
						t.Fatalf("the failure does not say %q:\n%v", tc.says, f)
					}
					t.Logf("caught:\n%v", f)
					if len(r.Cleanup.Errors) > 0 || len(r.Cleanup.Left) > 0 {
						t.Errorf("cleanup after the failure left %v, errors %v", r.Cleanup.Left, r.Cleanup.Errors)
					}
				}
			})
		})
	}
}
