// Code-generation tools for `make proto` (buf.gen.yaml runs them with `go -C go/tools tool`).
// A module of its own so the SDK's go.mod declares only what the SDK needs: `tool`
// directives need Go 1.24, while the SDK supports Go 1.23.
module github.com/aworld-runtime/aworld-runtime/go/tools

go 1.26.0

tool (
	google.golang.org/grpc/cmd/protoc-gen-go-grpc
	google.golang.org/protobuf/cmd/protoc-gen-go
)

require (
	google.golang.org/grpc/cmd/protoc-gen-go-grpc v1.6.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)
