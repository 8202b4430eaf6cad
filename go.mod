module github.com/scimkit/scim

go 1.23

require github.com/elimity-com/scim v0.0.0-20240320110924-172bf2aee9c8

require github.com/di-wu/xsd-datetime v1.0.0 // indirect
