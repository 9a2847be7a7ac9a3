package aworld

import (
	"context"
	"crypto/tls"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// DialOption configures how a [Client] or a [Worker] connects to the server. Without
// options the connection is plaintext, which suits a server on loopback (the server's
// default); use [WithTLS] (or an https:// address) for anything else.
//
// Addresses take the forms every AWorld SDK accepts: "host:port", "[ipv6]:port",
// "http://host:port" (plaintext) and "https://host:port" (TLS with the system roots unless
// [WithTLS] or [WithTransportCredentials] says otherwise). [Dial] rejects any other form.
type DialOption func(*dialConfig)

type dialConfig struct {
	token string
	creds credentials.TransportCredentials
	extra []grpc.DialOption
}

// WithToken sends "authorization: Bearer <token>" with every call (as per-RPC credentials).
func WithToken(token string) DialOption {
	return func(c *dialConfig) { c.token = token }
}

// WithTLS connects over TLS with cfg (nil means the system roots and default settings).
func WithTLS(cfg *tls.Config) DialOption {
	return func(c *dialConfig) { c.creds = credentials.NewTLS(cfg) }
}

// WithTransportCredentials connects with the given transport credentials, e.g. mutual TLS.
func WithTransportCredentials(creds credentials.TransportCredentials) DialOption {
	return func(c *dialConfig) { c.creds = creds }
}

// WithGRPCOptions adds raw gRPC dial options (interceptors, keepalive, a custom dialer).
// They are applied after the options this package derives, so they win on conflict.
func WithGRPCOptions(opts ...grpc.DialOption) DialOption {
	return func(c *dialConfig) { c.extra = append(c.extra, opts...) }
}

func newDialConfig(opts []DialOption) *dialConfig {
	c := &dialConfig{}
	for _, opt := range opts {
		opt(c)
	}
	return c
}

// addressForm matches the address forms every SDK accepts: host:port, [v6]:port,
// http://host:port and https://host:port.
var addressForm = regexp.MustCompile(`^(?:([a-z]+)://)?(\[[0-9a-fA-F:.]+\]|[^\s:/\[\]]+):(\d{1,5})/?$`)

// parseAddress returns the host:port to dial and whether the address asks for TLS.
func parseAddress(address string) (hostPort string, useTLS bool, err error) {
	m := addressForm.FindStringSubmatch(strings.TrimSpace(address))
	if m != nil && (m[1] == "" || m[1] == "http" || m[1] == "https") {
		if port, _ := strconv.Atoi(m[3]); port > 0 && port < 65536 {
			return m[2] + ":" + strconv.Itoa(port), m[1] == "https", nil
		}
	}
	return "", false, fmt.Errorf("aworld: invalid server address %q: use host:port, [ipv6]:port, http://host:port or https://host:port", address)
}

// newConn opens a (lazy) client connection to the server at address.
func (c *dialConfig) newConn(address string) (*grpc.ClientConn, error) {
	target, useTLS, err := parseAddress(address)
	if err != nil {
		return nil, err
	}
	creds := c.creds
	if creds == nil && useTLS {
		creds = credentials.NewTLS(nil)
	}
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	options := []grpc.DialOption{grpc.WithTransportCredentials(creds)}
	if c.token != "" {
		options = append(options, grpc.WithPerRPCCredentials(bearerToken(c.token)))
	}
	options = append(options, c.extra...)
	conn, err := grpc.NewClient(target, options...)
	if err != nil {
		return nil, fmt.Errorf("aworld: connect to %s: %w", address, err)
	}
	return conn, nil
}

// bearerToken is per-RPC credentials sending a bearer token.
type bearerToken string

func (t bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(t)}, nil
}

// RequireTransportSecurity is false so that a token also works on a plaintext loopback
// connection, the server's default; across a network use WithTLS.
func (bearerToken) RequireTransportSecurity() bool { return false }
