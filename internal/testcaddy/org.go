package testcaddy

import (
	"testing"

	"github.com/linkgate/linkgate/alias"
)

// NewOrg creates an organization and a token of it in store, whose schema
// must be there already.
func NewOrg(t testing.TB, store alias.Store) (orgID, token string) {
	t.Helper()
	org, err := store.CreateOrg(t.Context(), "org "+t.Name())
	if err != nil {
		t.Fatalf("creating an organization: %v", err)
	}
	token, _ = NewToken(t, store, org.ID)
	return org.ID, token
}

// NewToken creates another token of the organization and returns it and
// its ID.
func NewToken(t testing.TB, store alias.Store, orgID string) (token, tokenID string) {
	t.Helper()
	token, hash := alias.NewOrgToken()
	info, err := store.CreateToken(t.Context(), orgID, "test", hash)
	if err != nil {
		t.Fatalf("creating a token: %v", err)
	}
	return token, info.ID
}
