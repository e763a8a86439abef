/**
 * Which client address Koa reports (`ctx.ip`) behind proxies: with N trusted hops it takes, from the right of
 * X-Forwarded-For, the address the outermost of the N proxies saw; anything further left was written by the
 * client and is ignored. With 0 the header is not trusted at all and the socket's address is the client.
 */
export const trustedProxies = (hops: number) => (hops > 0 ? { proxy: true, maxIpsCount: hops } : { proxy: false });
