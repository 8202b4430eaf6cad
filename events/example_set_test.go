package events_test

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/events"
	"github.com/scimkit/scim/memstore"
)

// claimsOf returns the claims of an unsecured SET (a receiver of signed
// ones verifies them with go-jose's ParseSigned and Verify instead).
func claimsOf(token string) events.Claims {
	var c events.Claims
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[1])
	_ = json.Unmarshal(payload, &c)
	return c
}

// eventNames returns the event URIs of a SET, sorted.
func eventNames(c events.Claims) []string {
	var out []string
	for uri := range c.Events {
		out = append(out, uri)
	}
	slices.Sort(out)
	return out
}

// ExamplePollHandler serves a receiver's SETs by poll (RFC 8936) beside
// the SCIM handler, behind the host's own authentication of the
// receiver, and advertises them in /ServiceProviderConfig.
func ExamplePollHandler() {
	store := memstore.New()
	pub := &events.Publisher{Issuer: "https://app.example.com/scim/v2", Audience: []string{"https://siem.example.com"}}
	idp := scim.NewBearerTokens(scim.Token{Secret: "idp-token", Principal: scim.Principal{ID: "entra"}})
	h, err := scim.New(store, idp, scim.WithSecurityEvents(pub.EventURIs()...))
	if err != nil {
		panic(err)
	}
	poll := &events.PollHandler{Name: "receiver:siem", Store: store, Publisher: pub}
	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", h)
	mux.Handle("/events", receiverAuth("siem-token", poll))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	post := func(path, token, contentType, body string) []byte {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", contentType)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return b
	}
	// The identity provider creates a user.
	post("/scim/v2/Users", "idp-token", "application/scim+json",
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bjensen","active":true}`)

	// The receiver polls, keeps the SET, and acknowledges it.
	var answer struct {
		Sets          map[string]string `json:"sets"`
		MoreAvailable bool              `json:"moreAvailable"`
	}
	_ = json.Unmarshal(post("/events", "siem-token", "application/json", `{"returnImmediately":true}`), &answer)
	var acks []string
	for jti, set := range answer.Sets {
		c := claimsOf(set)
		fmt.Println(eventNames(c), c.Events[events.EventCreateNotice]["attributes"], strings.HasPrefix(c.SubID.URI, "/Users/"))
		acks = append(acks, jti)
	}
	ack, _ := json.Marshal(map[string]any{"ack": acks, "returnImmediately": true})
	answer.Sets = nil
	_ = json.Unmarshal(post("/events", "siem-token", "application/json", string(ack)), &answer)
	fmt.Println("left after the acknowledgement:", len(answer.Sets))
	// Output:
	// [urn:ietf:params:scim:event:prov:create:notice] [id active userName] true
	// left after the acknowledgement: 0
}

// receiverAuth is the host's authentication of the receiver: here one
// bearer token.
func receiverAuth(token string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ExamplePusher pushes each SET to a receiver's endpoint (RFC 8935), as a
// durable consumer of the store's feed.
func ExamplePusher() {
	store := memstore.New()
	received := make(chan events.Claims, 1)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		received <- claimsOf(string(body))
		w.WriteHeader(http.StatusAccepted) // kept: RFC 8935 §2.2
	}))
	defer receiver.Close()

	ctx, stop := context.WithCancel(context.Background())
	pusher := &events.Pusher{
		Name:      "receiver:mirror",
		Store:     store,
		URL:       receiver.URL,
		Header:    http.Header{"Authorization": {"Bearer the-receivers-token"}},
		Publisher: &events.Publisher{Issuer: "https://app.example.com/scim/v2", Audience: []string{receiver.URL}},
	}
	done := make(chan error, 1)
	go func() { done <- pusher.Run(ctx) }()

	// A write, here straight to the store (the handler's writes carry
	// their request's txn and attributes too).
	_, _ = store.Create(context.Background(), &scim.Resource{Type: "User", ID: "2819c223",
		Attributes: map[string]any{"userName": "bjensen", "externalId": "bjensen"}})
	c := <-received
	fmt.Println(eventNames(c), c.SubID.URI, c.SubID.ExternalID)
	stop()
	fmt.Println(<-done)
	// Output:
	// [urn:ietf:params:scim:event:prov:create:notice] /Users/2819c223 bjensen
	// context canceled
}
