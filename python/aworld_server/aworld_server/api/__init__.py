"""gRPC edge of the server: servicers that convert protobuf messages to domain types."""
