/**
 * How the SDK reaches a server: gRPC over HTTP/2 (Connect's Node transport), plaintext on
 * loopback by default, TLS when asked, a bearer token in the `authorization` header.
 */
import type * as http2 from "node:http2";
import type { Interceptor, Transport } from "@connectrpc/connect";
import { Http2SessionManager, createGrpcTransport } from "@connectrpc/connect-node";

/** TLS settings. `true` uses the system's trusted CAs. */
export interface TlsOptions {
  /** PEM CA certificate(s) to trust instead of the system's. */
  ca?: string | Buffer;
  /** PEM client certificate, for mutual TLS. */
  cert?: string | Buffer;
  /** PEM client private key, for mutual TLS. */
  key?: string | Buffer;
  /** Server name to verify against the certificate. Default: the host of the address. */
  serverName?: string;
}

/** Options shared by Client and Worker for reaching a server. */
export interface ConnectionOptions {
  /** Sent as `authorization: Bearer <token>` on every call. Empty: no header. */
  token?: string;
  /** Use TLS. Unset or `false`: plaintext HTTP/2 (the server's default on loopback). */
  tls?: boolean | TlsOptions;
  /** Extra Connect interceptors, run after the bearer-token one. */
  interceptors?: Interceptor[];
}

/** A transport and the HTTP/2 session behind it, which `close()` tears down. */
export interface Connection {
  readonly transport: Transport;
  close(): void;
}

/**
 * Open (lazily) a gRPC connection to `address`: "host:port", "[ipv6]:port", "http://host:port"
 * or "https://host:port" (TLS); any other form throws at once.
 */
export function openConnection(address: string, options: ConnectionOptions = {}): Connection {
  const { hostPort, https } = parseAddress(address);
  const tls = options.tls === true || (https && !options.tls) ? {} : options.tls || undefined;
  const url = `${tls !== undefined ? "https" : "http"}://${hostPort}`;
  const nodeOptions: http2.SecureClientSessionOptions = {};
  if (tls !== undefined) {
    if (tls.ca !== undefined) nodeOptions.ca = tls.ca;
    if (tls.cert !== undefined) nodeOptions.cert = tls.cert;
    if (tls.key !== undefined) nodeOptions.key = tls.key;
    if (tls.serverName !== undefined) nodeOptions.servername = tls.serverName;
  }
  // An explicit session manager, so close() can end the connection; Connect's default one
  // would keep the process alive until its idle timeout.
  const sessionManager = new Http2SessionManager(url, {}, nodeOptions);
  const interceptors = [...(options.token ? [bearer(options.token)] : []), ...(options.interceptors ?? [])];
  const transport = createGrpcTransport({ baseUrl: url, sessionManager, interceptors });
  return { transport, close: () => sessionManager.abort() };
}

// The address forms every AWorld SDK accepts.
const ADDRESS = /^(?:([a-z]+):\/\/)?(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):(\d{1,5})\/?$/;

/** The host:port of `address` and whether it asks for TLS; throws for other forms. */
export function parseAddress(address: string): { hostPort: string; https: boolean } {
  const match = ADDRESS.exec(address.trim());
  const scheme = match?.[1];
  const port = Number(match?.[3]);
  if (!match || (scheme !== undefined && scheme !== "http" && scheme !== "https") || !(port > 0 && port < 65536)) {
    throw new TypeError(
      `invalid server address ${JSON.stringify(address)}: use host:port, [ipv6]:port, http://host:port or https://host:port`,
    );
  }
  return { hostPort: `${match[2]}:${port}`, https: scheme === "https" };
}

function bearer(token: string): Interceptor {
  return (next) => (request) => {
    request.header.set("authorization", `Bearer ${token}`);
    return next(request);
  };
}
