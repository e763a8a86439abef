/**
 * Listening and stopping. `close()` stops accepting, lets in-flight requests finish, closes idle
 * keep-alive sockets at once and cuts the rest after the timeout.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';

export interface RunningServer {
  readonly server: Server;
  readonly port: number;
  readonly url: string;
  close(timeoutMs?: number): Promise<void>;
}

/** How long a client may take (HTTP_HEADERS_TIMEOUT_MS, HTTP_REQUEST_TIMEOUT_MS, HTTP_KEEP_ALIVE_TIMEOUT_MS). */
interface HttpTimeouts {
  /** To send the request headers. */
  headersMs: number;
  /** To send the whole request, body included (not to wait for the answer). */
  requestMs: number;
  /** An idle keep-alive connection stays open this long: above the proxy's idle timeout, so the proxy closes first. */
  keepAliveMs: number;
}

/** The configuration's defaults. */
const DEFAULT_TIMEOUTS: HttpTimeouts = { headersMs: 15_000, requestMs: 30_000, keepAliveMs: 65_000 };

export async function listen(
  app: Koa,
  port: number,
  host: string,
  timeouts: HttpTimeouts = DEFAULT_TIMEOUTS,
): Promise<RunningServer> {
  const server = createServer(
    {
      // A slow-loris client is answered 408 and disconnected once a timeout passes. Node looks for such
      // requests only every connectionsCheckingInterval (30 s by default, which would double the header
      // timeout): every second here, more often when the timeouts are that short (tests).
      headersTimeout: timeouts.headersMs,
      requestTimeout: timeouts.requestMs,
      connectionsCheckingInterval: Math.min(1_000, Math.ceil(timeouts.headersMs / 4)),
      keepAliveTimeout: timeouts.keepAliveMs,
    },
    app.callback(),
  );
  server.listen(port, host);
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  let closing: Promise<void> | undefined;
  return {
    server,
    port: address.port,
    url: `http://${shownHost}:${address.port}`,
    close(timeoutMs = 10_000) {
      closing ??= new Promise<void>((resolve, reject) => {
        const force = setTimeout(() => server.closeAllConnections(), timeoutMs);
        force.unref();
        server.close((err) => {
          clearTimeout(force);
          if (err && (err as NodeJS.ErrnoException).code !== 'ERR_SERVER_NOT_RUNNING') reject(err);
          else resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
