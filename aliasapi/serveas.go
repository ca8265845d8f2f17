package aliasapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/linkgate/linkgate/alias"
	"github.com/linkgate/linkgate/gate"
)

// asOrgKey is the context key under which ServeAs passes the organization.
// It is unexported, so no request that came over HTTP can carry it.
type asOrgKey struct{}

// ServeAs answers r exactly as ServeHTTP answers it for a valid token of
// organization orgID, without reading or checking any token: for a caller
// that knows the organization another way, such as the "caddy linkgate
// alias" commands, which hold the database itself. orgID must name an
// existing organization. No handler calls it: it is not reachable over
// HTTP.
func (api *API) ServeAs(w http.ResponseWriter, r *http.Request, orgID string) {
	api.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), asOrgKey{}, orgID)))
}

// servedAs returns the organization ServeAs passed with r.
func servedAs(r *http.Request) (string, bool) {
	orgID, ok := r.Context().Value(asOrgKey{}).(string)
	return orgID, ok
}

// retrieveAs answers retrieve as it answers a valid token of orgID: the
// organization's own alias in full, expired or not; another
// organization's alias as that organization's token sees it, which is
// as a viewer for a public alias that has not expired, else not found.
func (api *API) retrieveAs(w http.ResponseWriter, r *http.Request, id, orgID string) {
	ctx, cancel := api.storeContext(r)
	defer cancel()
	err := alias.ErrNotFound
	var a *alias.Alias
	if alias.ValidID(id) {
		a, err = api.Gate.Source.Alias(ctx, id)
	}
	switch {
	case errors.Is(err, alias.ErrNotFound):
	case err != nil:
		api.storeFailed(w, "retrieve alias", err)
		return
	case a.OrgID == orgID:
		writeData(w, http.StatusOK, viewOf(a, alias.RoleOwner))
		return
	case a.Public() && !a.Expired(api.Gate.Time()):
		writeData(w, http.StatusOK, viewOf(a, alias.RoleViewer))
		return
	}
	gate.WriteError(w, http.StatusNotFound, "alias_not_found", "alias not found")
}
