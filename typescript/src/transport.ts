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

/** Open (lazily) a gRPC connection to `address` ("host:port" or an http(s):// URL). */
export function openConnection(address: string, options: ConnectionOptions = {}): Connection {
  const tls = options.tls === true ? {} : options.tls || undefined;
  const url = baseUrl(address, tls !== undefined);
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

function baseUrl(address: string, tls: boolean): string {
  if (/^https?:\/\//.test(address)) return address;
  return `${tls ? "https" : "http"}://${address}`;
}

function bearer(token: string): Interceptor {
  return (next) => (request) => {
    request.header.set("authorization", `Bearer ${token}`);
    return next(request);
  };
}
