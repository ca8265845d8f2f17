package node

import (
	"context"

	"github.com/linkgate/linkgate/alias"
)

// Catalog returns the alias store the API uses: reads come from the
// caches the gateway shares, and every write through this node drops the
// entries it changed at once, before any change notice comes back.
func (n *Node) Catalog() alias.Catalog { return catalog{n} }

type catalog struct{ n *Node }

func (c catalog) Alias(ctx context.Context, id string) (alias.Alias, error) {
	a, err := c.n.Alias(ctx, id)
	if err != nil {
		return alias.Alias{}, err
	}
	return *a, nil
}

func (c catalog) OrgByToken(ctx context.Context, h alias.TokenHash) (string, error) {
	return c.n.OrgByToken(ctx, h)
}

func (c catalog) AliasByStreamKey(ctx context.Context, key string) (alias.Alias, error) {
	a, err := c.n.AliasByStreamKey(ctx, key)
	if err != nil {
		return alias.Alias{}, err
	}
	return *a, nil
}

func (c catalog) Aliases(ctx context.Context, orgID string, q alias.ListQuery) ([]alias.Alias, error) {
	b, err := c.n.Backend()
	if err != nil {
		return nil, err
	}
	aliases, err := b.Aliases(ctx, orgID, q)
	return aliases, c.n.storeError(err)
}

// CreateAlias drops the new ID, which may be remembered as not found.
func (c catalog) CreateAlias(ctx context.Context, a alias.Alias) (alias.Alias, error) {
	b, err := c.n.Backend()
	if err != nil {
		return alias.Alias{}, err
	}
	created, err := b.CreateAlias(ctx, a)
	if err == nil {
		c.n.aliases.Invalidate(created.ID)
	}
	return created, c.n.storeError(err)
}

func (c catalog) UpdateAlias(ctx context.Context, orgID, id string, p alias.Patch) (alias.Alias, error) {
	b, err := c.n.Backend()
	if err != nil {
		return alias.Alias{}, err
	}
	updated, err := b.UpdateAlias(ctx, orgID, id, p)
	if err == nil {
		c.n.InvalidateAlias(id)
	}
	return updated, c.n.storeError(err)
}

func (c catalog) DeleteAlias(ctx context.Context, orgID, id string) error {
	b, err := c.n.Backend()
	if err != nil {
		return err
	}
	err = b.DeleteAlias(ctx, orgID, id)
	if err == nil {
		c.n.InvalidateAlias(id)
	}
	return c.n.storeError(err)
}

// Revoke drops the alias, whose revocations come with it.
func (c catalog) Revoke(ctx context.Context, orgID, aliasID string, r alias.Revocation, limit int) ([]alias.Revocation, error) {
	b, err := c.n.Backend()
	if err != nil {
		return nil, err
	}
	in, err := b.Revoke(ctx, orgID, aliasID, r, limit)
	if err == nil {
		c.n.InvalidateAlias(aliasID)
	}
	return in, c.n.storeError(err)
}

func (c catalog) Revocations(ctx context.Context, orgID, aliasID string) ([]alias.Revocation, error) {
	b, err := c.n.Backend()
	if err != nil {
		return nil, err
	}
	in, err := b.Revocations(ctx, orgID, aliasID)
	return in, c.n.storeError(err)
}
