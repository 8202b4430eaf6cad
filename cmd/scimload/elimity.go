package main

// A naive elimity-com/scim service provider: its Server over a map of
// users behind a mutex, the way its documentation has one start. Only
// GET by id is measured on it.

import (
	"crypto/subtle"
	"fmt"
	"maps"
	"net/http"
	"sync"

	escim "github.com/elimity-com/scim"
	eerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	eschema "github.com/elimity-com/scim/schema"
)

// mapUsers is an escim.ResourceHandler over a map.
type mapUsers struct {
	mu    sync.RWMutex
	users map[string]escim.Resource
}

// Create is not measured; it stores the attributes under a fresh id.
func (m *mapUsers) Create(r *http.Request, attrs escim.ResourceAttributes) (escim.Resource, error) {
	return escim.Resource{}, eerrors.ScimError{Status: http.StatusNotImplemented}
}

// Get returns a copy of the user's attributes: the server writes id,
// schemas and meta into the map it is given.
func (m *mapUsers) Get(r *http.Request, id string) (escim.Resource, error) {
	m.mu.RLock()
	res, ok := m.users[id]
	m.mu.RUnlock()
	if !ok {
		return escim.Resource{}, eerrors.ScimErrorResourceNotFound(id)
	}
	res.Attributes = maps.Clone(res.Attributes)
	return res, nil
}

// GetAll is not measured.
func (m *mapUsers) GetAll(r *http.Request, p escim.ListRequestParams) (escim.Page, error) {
	return escim.Page{}, eerrors.ScimError{Status: http.StatusNotImplemented}
}

// Replace is not measured.
func (m *mapUsers) Replace(r *http.Request, id string, attrs escim.ResourceAttributes) (escim.Resource, error) {
	return escim.Resource{}, eerrors.ScimError{Status: http.StatusNotImplemented}
}

// Delete is not measured.
func (m *mapUsers) Delete(r *http.Request, id string) error {
	return eerrors.ScimError{Status: http.StatusNotImplemented}
}

// Patch is not measured.
func (m *mapUsers) Patch(r *http.Request, id string, ops []escim.PatchOperation) (escim.Resource, error) {
	return escim.Resource{}, eerrors.ScimError{Status: http.StatusNotImplemented}
}

// elimityHandler serves fx's users through elimity-com/scim under
// /scim/v2/, behind the same bearer-token check the handler makes.
func elimityHandler(fx *fixture) (http.Handler, error) {
	users := &mapUsers{users: make(map[string]escim.Resource, fx.users)}
	for i := range fx.users {
		users.users[fx.userID(i)] = escim.Resource{ID: fx.userID(i), Attributes: typicalUser(fx.userName(i)),
			Meta: escim.Meta{Created: &fx.now, LastModified: &fx.now, Version: `W/"1"`}}
	}
	srv, err := escim.NewServer(&escim.ServerArgs{
		ServiceProviderConfig: &escim.ServiceProviderConfig{
			AuthenticationSchemes: []escim.AuthenticationScheme{{Type: escim.AuthenticationTypeOauthBearerToken, Name: "Bearer", Primary: true}},
			SupportFiltering:      true, SupportPatch: true,
		},
		ResourceTypes: []escim.ResourceType{{
			ID: optional.NewString("User"), Name: "User", Endpoint: "/Users",
			Schema:           eschema.CoreUserSchema(),
			SchemaExtensions: []escim.SchemaExtension{{Schema: eschema.ExtensionEnterpriseUser()}},
			Handler:          users,
		}},
	})
	if err != nil {
		return nil, fmt.Errorf("starting elimity-com/scim: %w", err)
	}
	want := []byte("Bearer " + token)
	strip := http.StripPrefix("/scim", srv) // it serves /v2/Users/{id}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		strip.ServeHTTP(w, r)
	}), nil
}
