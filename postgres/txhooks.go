package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/scimkit/scim"
)

// TxHook is a host's code that runs inside a write's transaction, with
// the transaction, after the store wrote the resource and before the
// change is recorded and the transaction commits. What it writes with tx
// (the host's accounts row, its seat count, its outbox) commits with the
// directory's write or not at all, on any number of replicas.
//
// An error rolls the whole write back: nothing of it, nor of what the
// hook wrote, stays. The handler answers a *scim.Error the hook returns
// as it is (status, scimType, detail), as it answers a before hook's;
// any other error is a logged 500.
//
// When the database aborts the transaction to break a deadlock or a
// serialization conflict (SQLSTATE 40P01, 40001), the store runs the
// whole write again in a new transaction, the hook included: nothing of
// the first attempt survives, so the hook must do everything again from
// tx and keep no state of its own between calls. A hook that takes its
// own locks should take them in one order everywhere (say, by row id),
// or it will cause the deadlocks that make writes run again.
type TxHook func(ctx context.Context, tx pgx.Tx, w TxWrite) error

// TxWrite is one write as a TxHook sees it.
type TxWrite struct {
	// Change is what the feed records for the write (without its
	// Position): Op, the attributes changed, Activated and Deactivated,
	// the members Added and Removed, Cascade for the membership removals
	// a delete causes, the principal, request and transaction.
	Change scim.Change
	// Before is the resource as stored before the write, nil for a
	// create; After as stored after, nil for a delete. For a membership
	// PATCH of a Group both are the Group without its members (which the
	// store does not read); for the removal a delete causes, After is the
	// Group without its members and Before is nil.
	Before, After *scim.Resource
}

// WithTxHook adds a hook that runs inside every write's transaction: a
// create, replace or delete of any resource, a change of members through
// PatchMembers, and each Group a delete removes the deleted resource from
// (one call each, after the delete's own). Hooks run in the order they
// were added. With a hook, every write runs in a transaction of its own
// (the store otherwise sends a create or a membership PATCH as one batch).
func WithTxHook(h TxHook) Option {
	return func(s *Store) {
		if h != nil {
			s.txHooks = append(s.txHooks, h)
		}
	}
}

// runTxHooks runs the hooks for each write, in order.
func (s *Store) runTxHooks(ctx context.Context, tx pgx.Tx, writes ...TxWrite) error {
	for _, w := range writes {
		for _, h := range s.txHooks {
			if err := h(ctx, tx, w); err != nil {
				return err
			}
		}
	}
	return nil
}

// readForUpdate reads the resource of typ and id in tx, locking its row
// until the transaction ends, for a hook's Before.
func (s *Store) readForUpdate(ctx context.Context, tx pgx.Tx, tenant, typ, id string) (*scim.Resource, error) {
	sel, sql := s.getSQL(typ)
	res, err := sel.scan(tx.QueryRow(ctx, sql+` FOR NO KEY UPDATE OF r`, tenant, typ, id), typ)
	if isNoRows(err) {
		return nil, notFound(typ, id)
	}
	return res, err
}

// groupWithoutMembers reads a Group's row (not its members) in tx.
func (s *Store) groupWithoutMembers(ctx context.Context, tx pgx.Tx, tenant, id string) (*scim.Resource, error) {
	sel := s.selectList(groupType, "r", false, false)
	return sel.scan(tx.QueryRow(ctx, `SELECT `+sel.cols+` FROM `+s.t("resources")+` r
		WHERE r.tenant = $1 AND r.type = 'Group' AND r.id = $2`, tenant, id), groupType)
}
