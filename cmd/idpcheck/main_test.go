package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

const token = "tok-idpcheck"

// service is the library's handler on a memory store, served on loopback.
func service(t *testing.T, wrap func(http.Handler) http.Handler) (*httptest.Server, http.Handler) {
	t.Helper()
	h, err := scim.New(memstore.New(), scim.NewBearerTokens(scim.Token{Secret: token, Principal: scim.Principal{ID: "idpcheck"}}),
		scim.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		scim.WithPasswordHasher(scim.PasswordHasherFunc(func(p string) (string, error) { return "not-a-hash", nil })))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	var served http.Handler = h
	if wrap != nil {
		served = wrap(h)
	}
	mux.Handle("/scim/v2/", served)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, h
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// total is the number of resources at an endpoint.
func total(t *testing.T, h http.Handler, endpoint string) int {
	req := httptest.NewRequest(http.MethodGet, "/scim/v2/"+endpoint+"?count=0", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var list struct{ TotalResults int }
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil {
		t.Fatal(err, rec.Body)
	}
	return list.TotalResults
}

func TestRunPasses(t *testing.T) {
	srv, h := service(t, nil)
	var out, errs strings.Builder
	code := run([]string{"-url", srv.URL + "/scim/v2"}, &out, &errs, env(map[string]string{"SCIM_TOKEN": token}), nil)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errs.String())
	}
	for _, want := range []string{"Microsoft Entra ID (prefix idpcheck-", "Microsoft Entra ID with aadOptscim062020", "Okta (prefix", "Test Connection", "Unlink pushed groups", "every cycle passed, and nothing is left behind"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the output does not say %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String()+errs.String(), token) {
		t.Error("the token is shown")
	}
	if n := total(t, h, "Users") + total(t, h, "Groups"); n != 0 {
		t.Errorf("%d resources left behind", n)
	}
}

func TestRunFails(t *testing.T) {
	// 200 where 201 is due.
	srv, h := service(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(rewrite{w}, r)
		})
	})
	var out, errs strings.Builder
	code := run([]string{"-url", srv.URL + "/scim/v2", "-cycles", "okta"}, &out, &errs, env(map[string]string{"SCIM_TOKEN": token}), nil)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out.String())
	}
	for _, want := range []string{`step 4 of 19 "Push new users"`, "the service answered 200 OK to the create", "request:  POST", "idpcheck: FAILED"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the output does not say %q:\n%s", want, out.String())
		}
	}
	if n := total(t, h, "Users"); n != 0 {
		t.Errorf("%d users left behind after the failure", n)
	}
}

type rewrite struct{ http.ResponseWriter }

func (w rewrite) WriteHeader(code int) {
	if code == http.StatusCreated {
		code = http.StatusOK
	}
	w.ResponseWriter.WriteHeader(code)
}

func TestInterrupt(t *testing.T) {
	sigs := make(chan os.Signal, 2)
	var n atomic.Int64
	srv, h := service(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 40 {
				sigs <- os.Interrupt // Ctrl-C in the middle of the push
			}
			h.ServeHTTP(w, r)
		})
	})
	var out, errs strings.Builder
	code := run([]string{"-url", srv.URL + "/scim/v2", "-cycles", "okta,entra", "-users", "200"}, &out, &errs, env(map[string]string{"SCIM_TOKEN": token}), sigs)
	if code != 130 {
		t.Fatalf("exit %d, want 130\n%s\n%s", code, out.String(), errs.String())
	}
	if !strings.Contains(errs.String(), "interrupted: deleting what the run created") || strings.Contains(out.String(), "Microsoft Entra ID") {
		t.Errorf("out:\n%s\nerr:\n%s", out.String(), errs.String())
	}
	if n := total(t, h, "Users") + total(t, h, "Groups"); n != 0 {
		t.Errorf("%d resources left behind after Ctrl-C", n)
	}
}

func TestTargets(t *testing.T) {
	for _, tc := range []struct {
		url, writesTo string
		ok            bool
	}{
		{"http://127.0.0.1:8080/scim/v2", "", true},
		{"http://[::1]:8080/scim/v2", "", true},
		{"http://localhost/scim/v2", "", true},
		{"http://app.localhost/scim/v2", "", true},
		{"https://staging.example.com/scim/v2", "", false},
		{"https://staging.example.com/scim/v2", "staging.example.com", true},
		{"https://staging.example.com/scim/v2", "STAGING.example.com", true},
		{"https://staging.example.com/scim/v2", "prod.example.com", false},
		{"https://10.0.0.5/scim/v2", "", false},
		{"ftp://127.0.0.1/scim", "", false},
		{"127.0.0.1:8080/scim/v2", "", false},
	} {
		if err := checkTarget(tc.url, tc.writesTo); (err == nil) != tc.ok {
			t.Errorf("%s -writes-to %q: %v", tc.url, tc.writesTo, err)
		}
	}
	var out, errs strings.Builder
	if code := run([]string{"-url", "https://staging.example.com/scim/v2"}, &out, &errs, env(nil), nil); code != 2 || !strings.Contains(errs.String(), "-writes-to staging.example.com") {
		t.Errorf("exit %d: %s", code, errs.String())
	}
}

func TestToken(t *testing.T) {
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args    []string
		env     map[string]string
		want    string
		warning string
	}{
		{nil, map[string]string{"SCIM_TOKEN": "from-env"}, "from-env", ""},
		{[]string{"-token-file", file}, map[string]string{"SCIM_TOKEN": "from-env"}, token, ""},
		{[]string{"-token", "on-the-command-line"}, nil, "on-the-command-line", "-token shows the token"},
		{nil, nil, "", "no token"},
	} {
		var errs strings.Builder
		c, err := parse(append([]string{"-url", "http://127.0.0.1/scim/v2"}, tc.args...), &errs, env(tc.env))
		if err != nil {
			t.Fatal(err)
		}
		if c.token != tc.want || tc.warning != "" && !strings.Contains(errs.String(), tc.warning) || tc.warning == "" && errs.Len() > 0 {
			t.Errorf("%v: token %q, stderr %q", tc.args, c.token, errs.String())
		}
	}
	for _, bad := range [][]string{{}, {"-url", "http://127.0.0.1", "-cycles", "onelogin"}, {"-url", "http://127.0.0.1", "-attributes", "nickName"}, {"-url", "http://127.0.0.1", "-users", "0"}, {"-url", "http://127.0.0.1", "extra"}} {
		if _, err := parse(bad, io.Discard, env(nil)); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
