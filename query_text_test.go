package scim_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRequestTextErrors: a filter holding a control character is 400
// invalidFilter naming the character and where it is, not "not valid
// UTF-8" (it is valid UTF-8); other query parameters and the path say
// which of the two they break.
func TestRequestTextErrors(t *testing.T) {
	tests := []struct {
		name     string
		path     string
		status   int
		scimType string
		detail   []string // parts of the error's detail
	}{
		{"U+0001 in a filter", `/Users?filter=userName eq "a%01b"`, 400, "invalidFilter",
			[]string{"control character U+0001", "position 15"}},
		{"NUL in a filter", `/Users?filter=userName eq "a%00"`, 400, "invalidFilter", []string{"U+0000", "position 15"}},
		{"DEL in a filter", `/Users?filter=%7FuserName pr`, 400, "invalidFilter", []string{"U+007F", "position 1"}},
		{"C1 control in a filter", `/Users?filter=userName eq "%C2%85"`, 400, "invalidFilter", []string{"U+0085", "position 14"}},
		{"control character in a filter named in another case", `/Users?FILTER=userName eq "a%01"`, 400, "invalidFilter", []string{"U+0001"}},
		{"control character in a filter at the root", `/?filter=userName eq "a%01"`, 400, "invalidFilter", []string{"U+0001"}},
		{"invalid UTF-8 in a filter stays invalid UTF-8", `/Users?filter=userName eq "%FF"`, 400, "invalidValue",
			[]string{`query parameter "filter" is not valid UTF-8 text`}},
		{"control character in attributes", `/Users?attributes=userName%01`, 400, "invalidValue",
			[]string{`query parameter "attributes"`, "control character U+0001", "position 9"}},
		{"invalid UTF-8 in attributes", `/Users?attributes=%FF`, 400, "invalidValue",
			[]string{`query parameter "attributes" is not valid UTF-8 text`}},
		{"control character in a parameter's name", `/Users?a%01=1`, 400, "invalidValue",
			[]string{"query parameter name", "control character U+0001"}},
		{"control character in the path", `/Users/u1%00`, 400, "invalidSyntax",
			[]string{"request path", "control character U+0000"}},
		{"invalid UTF-8 in the path", `/Users/%FF`, 400, "invalidSyntax", []string{"request path is not valid UTF-8 text"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			resp := s.do(http.MethodGet, tt.path, nil)
			requireError(t, resp, tt.status, tt.scimType)
			detail, _ := resp.body["detail"].(string)
			for _, d := range tt.detail {
				assert.Contains(t, detail, d)
			}
			if !strings.Contains(tt.name, "invalid UTF-8") {
				assert.NotContains(t, detail, "UTF-8", "the text is valid UTF-8")
			}
		})
	}

	// Tab, line feed and carriage return are filter whitespace.
	s := newServer(t)
	s.create("/Users", user("bjensen"))
	resp := s.do(http.MethodGet, "/Users?filter=userName%09eq%0A%22bjensen%22", nil)
	require.Equal(t, http.StatusOK, resp.status, resp.raw)
	assert.EqualValues(t, 1, resp.body["totalResults"])
}
