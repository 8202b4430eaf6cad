module github.com/scimkit/scim

go 1.23.0

require (
	github.com/elimity-com/scim v0.0.0-20240320110924-172bf2aee9c8
	github.com/stretchr/testify v1.12.1
	golang.org/x/crypto v0.37.0
)

require (
	github.com/di-wu/xsd-datetime v1.0.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/sys v0.32.0 // indirect
)
