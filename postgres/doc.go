// Package postgres is a scim.Store on PostgreSQL.
package postgres
