package scim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/scimkit/scim"
)

// dumpStore returns every User and Group of the store's default tenant,
// meta included, as JSON: two dumps are equal when the store is
// byte-for-byte the same.
func dumpStore(tb testing.TB, store scim.Store) string {
	tb.Helper()
	var b strings.Builder
	for _, typ := range []string{"User", "Group"} {
		page, err := store.Query(context.Background(), typ, scim.Query{StartIndex: 1, Count: 1 << 30})
		if err != nil {
			tb.Fatalf("dump %s: %v", typ, err)
		}
		for _, r := range page.Resources {
			enc, err := json.Marshal(r)
			if err != nil {
				tb.Fatalf("dump %s: %v", typ, err)
			}
			b.Write(enc)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// storeViolations lists what breaks the store's invariants in the default
// tenant: a userName held twice (case-insensitively), a member that is not
// an existing User or Group, a multi-valued attribute holding the same
// (type, value) twice.
func storeViolations(tb testing.TB, store scim.Store) []string {
	tb.Helper()
	var out []string
	all := map[string]map[string]*scim.Resource{}
	for _, typ := range []string{"User", "Group"} {
		page, err := store.Query(context.Background(), typ, scim.Query{StartIndex: 1, Count: 1 << 30})
		if err != nil {
			tb.Fatalf("query %s: %v", typ, err)
		}
		all[typ] = map[string]*scim.Resource{}
		for _, r := range page.Resources {
			all[typ][r.ID] = r
		}
	}
	names := map[string]string{}
	for id, u := range all["User"] {
		name, _ := u.Attributes["userName"].(string)
		if strings.TrimSpace(name) == "" {
			out = append(out, fmt.Sprintf("user %s has no userName", id))
		}
		if other, dup := names[scim.FoldCase(name)]; dup {
			out = append(out, fmt.Sprintf("users %s and %s share userName %q", id, other, name))
		}
		names[scim.FoldCase(name)] = id
	}
	for typ, rs := range all {
		for id, r := range rs {
			for attr, v := range r.Attributes {
				list, ok := v.([]any)
				if !ok {
					continue
				}
				seen := map[string]bool{}
				for _, e := range list {
					m, _ := e.(map[string]any)
					k := fmt.Sprint(m["type"], "\x00", m["value"])
					if attr == "members" || attr == "groups" {
						k = fmt.Sprint(m["value"])
					} else if m == nil || m["value"] == nil {
						enc, _ := json.Marshal(e)
						k = string(enc)
					} else if s, ok := m["value"].(string); ok {
						k = fmt.Sprint(m["type"], "\x00", scim.FoldCase(s))
					}
					if seen[k] {
						out = append(out, fmt.Sprintf("%s %s: %s holds %v twice", typ, id, attr, e))
					}
					seen[k] = true
				}
			}
			if typ != "Group" {
				continue
			}
			members, _ := r.Attributes["members"].([]any)
			for _, m := range members {
				mid, _ := m.(map[string]any)["value"].(string)
				if all["User"][mid] == nil && all["Group"][mid] == nil {
					out = append(out, fmt.Sprintf("group %s: member %q is not a User or Group", id, mid))
				}
			}
		}
	}
	return out
}

// discardLogger drops what the handler logs.
func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
