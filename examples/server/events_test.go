package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEventsByPoll starts the example server with -events-token on each
// store and walks the README's curl walkthrough: a user created, its
// create event polled (RFC 8936), acknowledged, and gone from the next
// poll; a wrong receiver token is refused.
func TestEventsByPoll(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the tests that start server processes")
	}
	stores := map[string][]string{"memory": {"-postgres="}}
	if dsn := os.Getenv("SCIM_POSTGRES_DSN"); dsn != "" {
		stores["postgres"] = []string{"-postgres", dsn, "-postgres-schema", newSchema(t, dsn)}
	}
	for name, args := range stores {
		t.Run(name, func(t *testing.T) {
			p := startProcess(t, "scim-token", append(args, "-events-token", "receiver-token")...)
			base := strings.TrimSuffix(p.url, "/scim/v2")
			c := &http.Client{Timeout: 40 * time.Second}
			post := func(url, token, body string) (int, map[string]any) {
				req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
				require.NoError(t, err)
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				resp, err := c.Do(req)
				require.NoError(t, err)
				defer resp.Body.Close()
				var out map[string]any
				_ = json.NewDecoder(resp.Body).Decode(&out)
				return resp.StatusCode, out
			}
			status, user := post(p.url+"/Users", "scim-token", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bjensen","active":true}`)
			require.Equal(t, http.StatusCreated, status, "%v", user)
			status, got := post(base+"/events", "receiver-token", `{"maxEvents":10}`) // a long poll: the event is there
			require.Equal(t, http.StatusOK, status, "%v", got)
			sets, _ := got["sets"].(map[string]any)
			require.Len(t, sets, 1)
			var jti string
			for k, v := range sets {
				jti = k
				payload := strings.Split(v.(string), ".")[1]
				raw, err := base64.RawURLEncoding.DecodeString(payload)
				require.NoError(t, err)
				assert.Contains(t, string(raw), "urn:ietf:params:scim:event:prov:create")
				assert.Contains(t, string(raw), user["id"].(string))
			}
			status, got = post(base+"/events", "receiver-token", `{"ack":["`+jti+`"],"returnImmediately":true}`)
			require.Equal(t, http.StatusOK, status)
			assert.Empty(t, got["sets"], "an acknowledged event is not sent again")
			status, _ = post(base+"/events", "wrong", `{}`)
			assert.Equal(t, http.StatusUnauthorized, status)
		})
	}
}
